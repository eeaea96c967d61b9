import { test, expect, RELEASE, authorization, signIn } from "./support.mjs";

/** A freeze that holds shop in qa now, and for a long while. */
const FREEZE = `apiVersion: promenade.dev/v1alpha1
kind: Freeze
metadata: { name: audit-week }
spec:
  reason: Auditors are in the building
  scope: { products: [shop], environments: [qa] }
  timezone: Europe/Paris
  period: { start: "2020-01-06", end: "2100-01-01T00:00" }
`;

test("a freeze shows on the dashboard and the designer, and a release manager lets a release through it", RELEASE, async ({ page, request }, testInfo) => {
  // Several pages and a release; the freeze must be removed however long they take,
  // or it would hold the other tests' releases.
  test.setTimeout(60_000);
  const applied = await request.post("/api/v1/apply", { headers: authorization(), data: FREEZE });
  expect(applied.status(), await applied.text()).toBe(200);
  try {
    await signIn(page, "/products/shop");
    const banner = page.getByRole("complementary", { name: "Freezes" });
    await expect(banner).toContainText(
      "Frozen: audit-week holds shop in qa until 2099-12-31T23:00:00Z — Auditors are in the building",
    );
    await page.goto("/flows");
    await expect(page.getByRole("complementary", { name: "Freezes" })).toContainText("audit-week holds shop in qa");

    const created = await request.post("/api/v1/products/shop/promotions", {
      headers: authorization(),
      data: { to: "qa", message: "through the freeze" },
    });
    expect(created.status(), await created.text()).toBe(201);
    const release = await created.json();

    await page.goto(`/releases/${release.id}`);
    const qa = page.locator('.node[data-environment="qa"]');
    await expect(qa).toHaveAttribute("data-status", "frozen", { timeout: 15_000 });
    await expect(qa.getByTestId("frozen")).toContainText("freeze audit-week until 2099-12-31T23:00:00Z: Auditors are in the building");

    const letThrough = qa.getByRole("button", { name: "Let through…" });
    await expect(letThrough).toBeEnabled();
    await letThrough.click();
    const dialog = page.getByRole("dialog", { name: "Let this release through the freeze in qa" });
    await expect(dialog).toBeVisible();
    await page.screenshot({ path: testInfo.outputPath("break-glass.png"), fullPage: true });
    // Cancel leaves it frozen.
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await expect(dialog).toHaveCount(0);
    await expect(qa).toHaveAttribute("data-status", "frozen");

    await letThrough.click();
    await dialog.getByLabel("Reason").fill("the checkout fix cannot wait");
    await dialog.getByRole("button", { name: "Let through" }).click();
    await expect(page.getByTestId("release-status")).toHaveText("succeeded", { timeout: 30_000 });
    await expect(qa.getByTestId("break-glass")).toHaveText(
      "let through the freeze by admin: the checkout fix cannot wait",
    );

    const audit = await request.get("/api/v1/audit?action=freeze-broken", { headers: authorization() });
    expect(audit.status(), await audit.text()).toBe(200);
    const entries = await audit.json();
    expect(entries.map((e) => e.object)).toContain(release.id);
  } finally {
    const removed = await request.delete("/api/v1/freezes/audit-week", { headers: authorization() });
    expect(removed.status()).toBe(200);
  }
});
