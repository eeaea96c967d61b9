import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test, expect, RELEASE, authorization, signIn } from "./support.mjs";

/** The stand-in for GitHub's API the browser tests start (`fake-git-host`). */
const GITHUB = `http://127.0.0.1:${process.env.PROMENADE_FAKE_HOST_PORT}`;

test("a promotion to prod opens a pull request on GitHub and its merge finishes the release live", RELEASE, async ({ page, request }, testInfo) => {
  const demo = readFileSync(join(process.env.PROMENADE_E2E_DATA, "demo", "resources.yaml"), "utf8");
  const onGitHub = demo.replace(
    "branch: main }",
    `branch: main, provider: github, apiUrl: "${GITHUB}", apiCredentials: github-api }`,
  );
  expect(onGitHub).not.toEqual(demo);
  const saved = await request.post("/api/v1/credentials/github-api", {
    headers: authorization(),
    data: { kind: "token", secret: "ghp_browser_test_token" },
  });
  expect(saved.status(), await saved.text()).toBe(201);
  let release;
  try {
    const applied = await request.post("/api/v1/apply", { headers: authorization(), data: onGitHub });
    expect(applied.status(), await applied.text()).toBe(200);
    const created = await request.post("/api/v1/products/shop/promotions", {
      headers: authorization(),
      data: { to: "prod", message: "through a pull request" },
    });
    expect(created.status(), await created.text()).toBe(201);
    release = await created.json();

    await signIn(page, `/releases/${release.id}`);
    const prod = page.locator('.node[data-environment="prod"]');
    await expect(prod).toHaveAttribute("data-status", "awaiting-merge", { timeout: 30_000 });
    const pulls = await (await request.get(`${GITHUB}/_fake/pulls`)).json();
    const pull = pulls.find((p) => p.head === `promenade/shop/prod/${release.id}`);
    expect(pull, JSON.stringify(pulls)).toBeTruthy();
    expect(pull.title).toMatch(/^Promote shop .+ to prod$/);
    const link = prod.locator(".pull-request a");
    await expect(link).toHaveText(`#${pull.number}`);
    await expect(link).toHaveAttribute("href", `${GITHUB}/demo/gitops/pull/${pull.number}`);
    await expect(prod.locator(".pull-request")).toHaveAttribute("data-state", "open");
    await page.screenshot({ path: testInfo.outputPath("awaiting-merge.png"), fullPage: true });

    // Someone merges it on GitHub: the page follows without a reload.
    const merged = await request.post(`${GITHUB}/_fake/pulls/${pull.number}/merge`);
    expect(merged.status(), await merged.text()).toBe(200);
    await expect(page.getByTestId("release-status")).toHaveText("succeeded", { timeout: 30_000 });
    await expect(prod.locator(".pull-request")).toHaveAttribute("data-state", "merged");

    const statuses = await (await request.get(`${GITHUB}/_fake/statuses`)).json();
    const onSource = statuses.filter((s) => s.context === "promenade/prod");
    expect(onSource.map((s) => s.state)).toEqual(["pending", "success"]);
    expect(onSource[1].targetUrl).toMatch(new RegExp(`/releases/${release.id}$`));
  } finally {
    if (release) {
      // Ended already when the test passed; a failed run leaves nothing waiting.
      await request.post(`/api/v1/releases/${release.id}/terminate`, { headers: authorization() });
    }
    const restored = await request.post("/api/v1/apply", { headers: authorization(), data: demo });
    expect(restored.status(), await restored.text()).toBe(200);
    const removed = await request.delete("/api/v1/credentials/github-api", { headers: authorization() });
    expect(removed.status()).toBe(204);
  }
});
