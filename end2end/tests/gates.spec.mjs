import { test, expect, RELEASE, authorization, signIn } from "./support.mjs";

const POLICY = `apiVersion: promenade.dev/v1alpha1
kind: PromotionPolicy
metadata: { name: qa-approval }
spec:
  priority: 300
  selector: { products: [shop], environments: [qa] }
  gates:
    - approval: { roles: [release-manager] }
`;

test("a release waits at an approval gate until someone approves it on its page", RELEASE, async ({ page, request }, testInfo) => {
  const applied = await request.post("/api/v1/apply", { headers: authorization(), data: POLICY });
  expect(applied.status(), await applied.text()).toBe(200);
  try {
    const created = await request.post("/api/v1/products/shop/promotions", {
      headers: authorization(),
      data: { to: "qa", message: "through the gate" },
    });
    expect(created.status(), await created.text()).toBe(201);
    const release = await created.json();

    await signIn(page, `/releases/${release.id}`);
    const qa = page.locator('.node[data-environment="qa"]');
    await expect(qa).toHaveAttribute("data-status", "gating");
    await expect(qa.getByRole("list", { name: "Gates" })).toHaveText(
      "waiting for approval: 0 of 1 (release-manager)",
    );
    await page.screenshot({ path: testInfo.outputPath("waiting-for-approval.png"), fullPage: true });

    await qa.getByRole("button", { name: "Approve qa" }).click();
    // The release goes on without a reload: the page follows the release's events.
    await expect(page.getByTestId("release-status")).toHaveText("succeeded", { timeout: 30_000 });
    await expect(qa.getByRole("list", { name: "Gates" })).toHaveText("approved by admin");
    await expect(qa.getByRole("button", { name: "Approve qa" })).toHaveCount(0);
    await expect(page.getByTestId("timeline")).toContainText("qa → approved by admin");
  } finally {
    const removed = await request.delete("/api/v1/policies/qa-approval", { headers: authorization() });
    expect(removed.status()).toBe(200);
  }
});
