// The products dashboard, one-click promote with preview, and the live release view,
// against the demo product `shop` (web, api, worker; dev → qa → staging-eu/us → prod).
import { test, expect, RELEASE, hydrated, signIn } from "./support.mjs";

test.describe.configure({ mode: "serial" });

/** Waits until the dashboard's table runs in the browser (it hydrates after the page). */
async function dashboardLive(page) {
  await hydrated(page);
  await expect(page.locator(".table-scroll[data-live]")).toHaveCount(1);
}

const cell = (page, app, env) =>
  page.locator(`td.cell[data-application="${app}"][data-environment="${env}"]`);

test("the dashboard shows every application in every environment, prod apart", RELEASE, async ({ page }, testInfo) => {
  await signIn(page, "/");
  await dashboardLive(page);
  await expect(page.getByRole("heading", { level: 2, name: "shop" })).toBeVisible();
  const headers = page.locator("thead th.env .env-name");
  await expect(headers).toHaveText(["dev", "qa", "staging-eu", "staging-us", "prod"]);
  await expect(page.locator('thead th.env[data-environment="prod"]')).toHaveClass(/prod/);
  await expect(cell(page, "web", "dev").locator(".version strong")).toHaveText("1.5.0");
  await expect(cell(page, "web", "qa").locator(".version strong")).toHaveText("1.4.0");
  await expect(cell(page, "api", "qa").locator(".badge.drift")).toBeVisible();

  await page.getByLabel("Filter applications by name").fill("work");
  await expect(page.locator("tbody tr:not(.hidden) th.app-name")).toHaveText(["worker"]);
  await page.getByLabel("Filter applications by name").fill("");
  await page.screenshot({ path: testInfo.outputPath("dashboard.png"), fullPage: true });

  await page.setViewportSize({ width: 390, height: 844 });
  await expect(page.getByRole("button", { name: "Run the flow" })).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath("dashboard-narrow.png"), fullPage: true });

  // A fresh load of the dashboard hydrates without errors.
  await page.reload();
  await dashboardLive(page);
  await expect(cell(page, "web", "dev").locator(".version strong")).toHaveText("1.5.0");
});

test("promote with the preview, then watch the release and the dashboard update live", RELEASE, async ({ page, context }, testInfo) => {
  await signIn(page, "/");
  await dashboardLive(page);
  // A second tab keeps the dashboard open while the first one promotes.
  const watcher = await context.newPage();
  await watcher.goto("/");
  await dashboardLive(watcher);
  await expect(cell(watcher, "web", "qa").locator(".version strong")).toHaveText("1.4.0");

  await page.getByRole("button", { name: "Promote everything to qa" }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog.getByRole("heading", { name: "Promote dev → qa" })).toBeVisible();
  const qa = dialog.locator('.preview-env[data-environment="qa"]');
  await expect(qa).toContainText("3 applications");
  await expect(qa.locator("pre.diff .add").first()).toHaveText('+  tag: "1.5.0"  # the version running here');
  await expect(qa.locator("pre.diff .del").first()).toHaveText('-  tag: "1.4.0"  # the version running here');
  await page.screenshot({ path: testInfo.outputPath("preview.png"), fullPage: true });

  await dialog.getByLabel("Message").fill("ship 1.5.0 to qa");
  await dialog.getByRole("button", { name: "Confirm and promote" }).click();
  await expect(page).toHaveURL(/\/releases\/[0-9a-z]+$/);
  const node = page.locator('.node[data-environment="qa"]');
  await expect(node).toHaveAttribute("data-status", "succeeded", { timeout: 20_000 });
  await expect(page.getByTestId("release-status")).toHaveText("succeeded");
  await expect(page.getByTestId("timeline")).toContainText("qa → succeeded");
  await page.screenshot({ path: testInfo.outputPath("release.png"), fullPage: true });

  // The other tab was never reloaded.
  await expect(cell(watcher, "web", "qa").locator(".version strong")).toHaveText("1.5.0", { timeout: 15_000 });
  await watcher.close();
});

test("dragging a version onto another environment promotes it there", async ({ page }) => {
  await signIn(page, "/");
  await dashboardLive(page);
  const version = cell(page, "web", "qa").locator(".version");
  await expect(version.locator("strong")).toHaveText("1.5.0");
  await version.dragTo(page.locator('thead th.env[data-environment="staging-us"]'));
  const dialog = page.getByRole("dialog");
  await expect(dialog.getByRole("heading", { name: "Promote web: qa → staging-us" })).toBeVisible();
  const staging = dialog.locator('.preview-env[data-environment="staging-us"]');
  await expect(staging).toContainText("1 applications");
  await dialog.getByRole("button", { name: "Confirm and promote" }).click();
  await expect(page.locator('.node[data-environment="staging-us"]')).toHaveAttribute("data-status", "succeeded", {
    timeout: 20_000,
  });

  // The keyboard path to the same thing: the "Promote to…" menu.
  await page.goto("/");
  await dashboardLive(page);
  await cell(page, "api", "qa").getByLabel("Promote api from qa to…").selectOption("staging-eu");
  await expect(page.getByRole("dialog").getByRole("heading", { name: "Promote api: qa → staging-eu" })).toBeVisible();
  await page.getByRole("button", { name: "Cancel" }).click();
  await expect(page.getByRole("dialog")).toHaveCount(0);
});

test("a running release can be terminated from its page", async ({ page }, testInfo) => {
  await signIn(page, "/");
  await dashboardLive(page);
  // prod is promoted by pull request: the release waits there for a merge.
  await page.getByRole("button", { name: "Run the flow" }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog.locator('.preview-env[data-environment="prod"]')).toContainText("pull request");
  await dialog.getByRole("button", { name: "Confirm and promote" }).click();
  const prod = page.locator('.node[data-environment="prod"]');
  await expect(prod).toHaveAttribute("data-status", "awaiting-merge", { timeout: 30_000 });
  await page.getByRole("button", { name: "Terminate" }).click();
  await expect(page.getByTestId("release-status")).toHaveText("terminated");
  await expect(prod).toHaveAttribute("data-status", "terminated");
  await page.screenshot({ path: testInfo.outputPath("terminated.png"), fullPage: true });

  await page.goto("/releases?status=terminated");
  await expect(page.locator(".release-table tbody tr")).toHaveCount(1);
});
