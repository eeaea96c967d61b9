// Every page checked with axe-core (WCAG 2.1 A and AA rules): no serious or critical
// violation. Runs after the other tests (playwright.config.mjs), signed out and signed
// in, with the promote dialog open and on a release, so that their parts are checked too.
import AxeBuilder from "@axe-core/playwright";
import { test, expect, hydrated, signIn } from "./support.mjs";

/** The serious and critical violations on the page as it is now, one line each. */
async function violations(page) {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`);
}

test("no page has a serious or critical accessibility violation", async ({ page }) => {
  test.setTimeout(90_000);
  // Every page's findings together, so one run lists all of them.
  const found = [];
  const check = async (where) => {
    for (const line of await violations(page)) found.push(`${where}: ${line}`);
  };
  await page.goto("/login");
  await check("/login");

  await signIn(page, "/");
  for (const path of [
    "/",
    "/products/shop",
    "/products/shop/delivery",
    "/releases",
    "/flows",
    "/flows/standard",
    "/flows/new",
    "/settings",
    "/no-such-page",
  ]) {
    await page.goto(path);
    await hydrated(page);
    await check(path);
  }

  // The promote dialog (closed again: this test changes nothing), and a release.
  await page.goto("/products/shop");
  await hydrated(page);
  await expect(page.locator(".table-scroll[data-live]")).toHaveCount(1);
  await page.getByRole("button", { name: "Promote here: everything to qa" }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog.locator('.preview-env[data-environment="qa"]')).toBeVisible();
  await check("the promote dialog");
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await page.goto("/releases");
  await hydrated(page);
  await page.locator(".release-table tbody a").first().click();
  await expect(page).toHaveURL(/\/releases\/[0-9a-z]+$/);
  await hydrated(page);
  await check("a release");
  expect(found).toEqual([]);
});
