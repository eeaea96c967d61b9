import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test, expect, RELEASE, authorization, signIn } from "./support.mjs";

/** The stand-in for Argo CD the browser tests start (`fake-argo`). */
const ARGOCD = `http://127.0.0.1:${process.env.PROMENADE_FAKE_ARGOCD_PORT}`;

async function argoReports(request, application, state) {
  const set = await request.post(`${ARGOCD}/_fake/applications/${application}`, { data: state });
  expect(set.status(), await set.text()).toBe(204);
}

test("a dashboard cell shows what Argo CD runs and follows it from Progressing to Healthy live", RELEASE, async ({ page, request }, testInfo) => {
  const demo = readFileSync(join(process.env.PROMENADE_E2E_DATA, "demo", "resources.yaml"), "utf8");
  const withArgo = demo.replace(
    /(metadata: \{ name: qa \}\nspec: \{ kind: non-prod, color: "[^"]+")/,
    `$1, argocd: { server: "${ARGOCD}", credentials: argocd }`,
  );
  expect(withArgo).not.toEqual(demo);
  const saved = await request.post("/api/v1/credentials/argocd", {
    headers: authorization(),
    data: { kind: "token", secret: "argo-browser-test-token" },
  });
  expect(saved.status(), await saved.text()).toBe(201);
  try {
    await argoReports(request, "web-qa", { sync: "OutOfSync", health: "Progressing", revision: "old" });
    const applied = await request.post("/api/v1/apply", { headers: authorization(), data: withArgo });
    expect(applied.status(), await applied.text()).toBe(200);

    await signIn(page, "/products/shop");
    const web = page.locator('td.cell[data-application="web"][data-environment="qa"] .argocd');
    await expect(web).toHaveAttribute("data-health", "Progressing");
    await expect(web).toHaveAttribute("data-sync", "OutOfSync");
    await expect(web).toContainText("differs from git");
    await expect(web).toHaveAttribute("title", /^Argo CD Application web-qa: OutOfSync, Progressing at 0123456$/);
    // Environments without an Argo CD show only what git says.
    await expect(page.locator('td.cell[data-environment="dev"] .argocd')).toHaveCount(0);
    await page.screenshot({ path: testInfo.outputPath("progressing.png"), fullPage: true });

    // Argo CD finishes the rollout: the cell follows without a reload.
    await argoReports(request, "web-qa", { sync: "Synced", health: "Healthy", revision: "tip" });
    await expect(web).toHaveAttribute("data-health", "Healthy", { timeout: 15_000 });
    await expect(web).toHaveAttribute("data-sync", "Synced");
    await expect(web).not.toContainText("differs from git");
    await expect(page.locator('td.cell[data-application="api"][data-environment="qa"] .argocd')).toHaveAttribute("data-health", "Healthy");
  } finally {
    const restored = await request.post("/api/v1/apply", { headers: authorization(), data: demo });
    expect(restored.status(), await restored.text()).toBe(200);
    const removed = await request.delete("/api/v1/credentials/argocd", { headers: authorization() });
    expect(removed.status()).toBe(204);
  }
});
