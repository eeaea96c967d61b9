import { test, expect, RELEASE, adminPassword, hydrated, signIn } from "./support.mjs";

test("pages need a signed-in user; a wrong password is refused", RELEASE, async ({ page }, testInfo) => {
  // Pages run under a Content-Security-Policy naming this response's nonce only.
  const answer = await page.goto("/login");
  const policy = answer.headers()["content-security-policy"];
  expect(policy).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9_-]{20,}' 'wasm-unsafe-eval'/);
  const nonce = policy.match(/'nonce-([^']+)'/)[1];
  await expect(page.locator(`script[nonce]`).first()).toBeAttached();
  expect(await page.locator("script[nonce]").first().evaluate((s) => s.nonce)).toBe(nonce);
  await hydrated(page);

  await page.goto("/settings");
  await expect(page).toHaveURL(/\/login\?next=\/settings$/);
  await expect(page.getByRole("heading", { name: "Sign in to Promenade" })).toBeVisible();
  // Typed into once the page runs in the browser, so the refusal is the app's answer.
  await hydrated(page);

  await page.getByLabel("User name").fill("admin");
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toHaveText("wrong user name or password");
  await page.screenshot({ path: testInfo.outputPath("sign-in-refused.png") });

  await page.getByLabel("Password").fill(adminPassword());
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/settings$/);
  await expect(page.getByTestId("signed-in-user")).toHaveText("admin (admin)");

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login/);
  await page.goto("/");
  await expect(page).toHaveURL(/\/login\?next=\/$/);
});

test("the settings page hydrates and a server function answers a click", RELEASE, async ({ page }, testInfo) => {
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));

  await signIn(page, "/settings");
  await expect(page.getByRole("heading", { level: 1, name: "Settings" })).toBeVisible();
  const status = page.getByTestId("server-status");
  await expect(status).toHaveText("Not checked yet.");

  // The button is rendered disabled and only the hydrated page enables it, so this click
  // can only succeed once the wasm bundle has taken over the server-rendered DOM.
  const button = page.getByRole("button", { name: "Check connection" });
  await expect(button).toBeEnabled();
  await button.click();
  await expect(status).toHaveText(
    /^Connected: Promenade \d+\.\d+\.\d+ with sqlite \(\d+ migrations applied\)\.$/,
  );

  await page.screenshot({ path: testInfo.outputPath("settings-hydrated.png"), fullPage: true });
  expect(errors).toEqual([]);
});

test("an admin stores credentials on the settings page and never sees the secret again", RELEASE, async ({ page }, testInfo) => {
  const secret = "e2e-s3cret-4c1d9";
  await signIn(page, "/settings");
  const panel = page.getByTestId("credentials");
  await expect(panel.getByRole("button", { name: "Create" })).toBeEnabled();
  await panel.getByLabel("Name", { exact: true }).fill("ci-token");
  await panel.getByLabel("Kind").selectOption("token");
  await expect(panel.getByLabel("User name")).toHaveCount(0);
  await panel.getByLabel("Token or password").fill(secret);
  await panel.getByRole("button", { name: "Create" }).click();
  await expect(panel.getByTestId("credentials-status")).toHaveText("Saved credentials ci-token.");
  const row = panel.getByRole("row", { name: /ci-token/ });
  await expect(row).toContainText("token");
  await expect(row).toContainText("never");
  await expect(panel.getByLabel("Token or password")).toHaveValue("");
  await page.screenshot({ path: testInfo.outputPath("credentials.png"), fullPage: true });
  expect(await page.content()).not.toContain(secret);
  await page.reload();
  await expect(panel.getByRole("row", { name: /ci-token/ })).toBeVisible();
  expect(await page.content()).not.toContain(secret);

  // The same name again is refused, with the server's reason.
  await expect(panel.getByRole("button", { name: "Create" })).toBeEnabled();
  await panel.getByLabel("Name", { exact: true }).fill("ci-token");
  await panel.getByLabel("Kind").selectOption("token");
  await panel.getByLabel("Token or password").fill("another");
  await panel.getByRole("button", { name: "Create" }).click();
  await expect(panel.getByTestId("credentials-status")).toContainText("exist already");

  await panel.getByRole("button", { name: "Delete ci-token" }).click();
  await expect(panel.getByTestId("no-credentials")).toBeVisible();

  // Each of those steps is in the audit trail further down, the secret is not.
  await page.reload();
  await hydrated(page);
  const audit = page.getByTestId("audit");
  await expect(audit.locator('tr[data-action="credentials-deleted"]', { hasText: "ci-token" }).first()).toBeVisible();
  await audit.getByLabel("Action").selectOption("credentials-created");
  await expect(audit.locator('tbody tr:not([data-action="credentials-created"])')).toHaveCount(0);
  await expect(audit.locator("tbody tr", { hasText: "ci-token" }).first()).toContainText("user admin");
  await page.screenshot({ path: testInfo.outputPath("audit.png"), fullPage: true });
  expect(await page.content()).not.toContain(secret);
});

test("an admin manages users and API tokens on the settings page; a token's secret is shown once", RELEASE, async ({ page, request }, testInfo) => {
  await signIn(page, "/settings");
  const users = page.getByTestId("users");
  await expect(users.getByRole("button", { name: "Add user" })).toBeEnabled();
  await users.getByLabel("User name").fill("e2e-user");
  await users.getByLabel("Role", { exact: true }).selectOption("promoter");
  await users.getByLabel("Password (12 characters or more)").fill("a long enough password");
  await users.getByRole("button", { name: "Add user" }).click();
  await expect(users.getByTestId("users-status")).toHaveText("Added e2e-user.");
  await expect(users.getByLabel("Role of e2e-user")).toHaveValue("promoter");
  await users.getByLabel("Role of e2e-user").selectOption("release-manager");
  await users.getByRole("button", { name: "Set role of e2e-user" }).click();
  await expect(users.getByTestId("users-status")).toHaveText("Role changed.");
  await page.reload();
  await expect(users.getByLabel("Role of e2e-user")).toHaveValue("release-manager");
  await expect(users.getByRole("button", { name: "Set role of admin" })).toBeEnabled();
  // The only administrator stays one.
  await users.getByLabel("Role of admin").selectOption("viewer");
  await users.getByRole("button", { name: "Set role of admin" }).click();
  await expect(users.getByTestId("users-status")).toContainText("the last administrator");
  await users.getByLabel("New password for e2e-user").fill("another long password");
  await users.getByRole("button", { name: "Reset password of e2e-user" }).click();
  await expect(users.getByTestId("users-status")).toHaveText("Password set; that user's sessions have ended.");
  await users.getByRole("button", { name: "Remove e2e-user" }).click();
  await expect(users.getByTestId("users-status")).toHaveText("Removed.");
  await expect(users.getByRole("row", { name: /e2e-user/ })).toHaveCount(0);

  const tokens = page.getByTestId("tokens");
  await tokens.getByLabel("Token name").fill("e2e-ci");
  await tokens.getByLabel("Role", { exact: true }).selectOption("viewer");
  await tokens.getByRole("button", { name: "Create token" }).click();
  const shown = tokens.getByTestId("new-token");
  await expect(shown).toContainText("The secret of e2e-ci, shown only now");
  const secret = (await shown.locator("code").textContent()).trim();
  expect(secret).toMatch(/^pmd_/);
  await expect(tokens.getByRole("row", { name: /e2e-ci/ })).toContainText("viewer");
  await page.screenshot({ path: testInfo.outputPath("users-and-tokens.png"), fullPage: true });
  const withToken = { Authorization: `Bearer ${secret}` };
  expect((await request.get("/api/v1/products", { headers: withToken })).status()).toBe(200);
  await page.reload();
  await expect(tokens.getByRole("row", { name: /e2e-ci/ })).toBeVisible();
  expect(await page.content()).not.toContain(secret);
  await expect(tokens.getByRole("button", { name: "Revoke e2e-ci" })).toBeEnabled();
  await tokens.getByRole("button", { name: "Revoke e2e-ci" }).click();
  await expect(tokens.getByTestId("tokens-status")).toHaveText("Revoked.");
  await expect(tokens.getByRole("row", { name: /e2e-ci/ })).toHaveCount(0);
  expect((await request.get("/api/v1/products", { headers: withToken })).status()).toBe(401);
});

test("the settings page says who is signed in and refuses a password change without the current one", RELEASE, async ({ page }) => {
  await signIn(page, "/settings");
  const profile = page.getByTestId("profile");
  await expect(profile).toContainText("Signed in as admin (admin).");
  const change = profile.getByRole("button", { name: "Change password" });
  await expect(change).toBeEnabled();
  await profile.getByLabel("Current password").fill("not the password at all");
  await profile.getByLabel("New password", { exact: true }).fill("a brand new password");
  await profile.getByLabel("New password again").fill("a brand new password");
  await change.click();
  await expect(profile.getByTestId("profile-status")).toHaveText("the current password is wrong");
  await profile.getByLabel("New password again").fill("a different password");
  await change.click();
  await expect(profile.getByTestId("profile-status")).toHaveText("the new password and its repetition differ");
  // Still signed in with the old password: nothing changed.
  await page.reload();
  await expect(page.getByTestId("signed-in-user")).toHaveText("admin (admin)");
});

test("navigation moves between sections without a full page load", async ({ page }) => {
  await signIn(page, "/");
  await expect(page.getByRole("heading", { level: 1, name: "Products" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Check connection" })).toHaveCount(0);

  // A marker on window survives client-side navigation but not a document load.
  await page.goto("/releases");
  await hydrated(page);
  await page.evaluate(() => (window.__promenadeMarker = "still here"));

  const nav = page.getByRole("navigation", { name: "Main" });
  for (const [label, heading] of [["Products", "Products"], ["Releases", "Releases"]]) {
    await nav.getByRole("link", { name: label }).click();
    await expect(page.getByRole("heading", { level: 1, name: heading })).toBeVisible();
    await expect(nav.getByRole("link", { name: label })).toHaveAttribute("aria-current", "page");
  }
  expect(await page.evaluate(() => window.__promenadeMarker)).toBe("still here");

  // Settings comes with a bundle of its own: its link loads the page from the server.
  await nav.getByRole("link", { name: "Settings" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Settings" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Check connection" })).toBeEnabled();
  expect(await page.evaluate(() => window.__promenadeMarker)).toBeUndefined();
});

/** Records the wasm files the page downloads, by name. */
function wasmDownloads(page) {
  const names = [];
  page.on("request", (request) => {
    const match = new URL(request.url()).pathname.match(/\/pkg\/([^/]+)_bg\.wasm$/);
    if (match) names.push(match[1]);
  });
  return names;
}

/** The bundle the current document was served with, from its hydration scripts. */
async function bundleOf(page) {
  const href = await page.locator('link[rel="modulepreload"]').getAttribute("href");
  return href.match(/\/pkg\/([^/]+)\.js$/)[1];
}

test("each group of pages comes in its own bundle; no page downloads another's", RELEASE, async ({ page }) => {
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  const wasm = wasmDownloads(page);
  const nav = page.getByRole("navigation", { name: "Main" });

  await signIn(page, "/");
  await page.goto("/releases");
  await hydrated(page);
  expect(await bundleOf(page)).toBe("promenade");
  expect([...new Set(wasm)]).toEqual(["promenade"]);

  // The header's link to the designer loads the page from the server, designer bundle
  // included; the designer works there.
  await page.evaluate(() => (window.__promenadeMarker = "still here"));
  await nav.getByRole("link", { name: "Flows" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Flows" })).toBeVisible();
  await hydrated(page);
  expect(await page.evaluate(() => window.__promenadeMarker)).toBeUndefined();
  expect(await bundleOf(page)).toBe("promenade-designer");
  expect([...new Set(wasm)]).toEqual(["promenade", "promenade-designer"]);

  // Within the designer's pages, navigation stays in the bundle at hand.
  await page.evaluate(() => (window.__promenadeMarker = "still here"));
  await page.getByRole("link", { name: "standard" }).click();
  await expect(page.getByTestId("flow-designer")).toHaveAttribute("data-ready", "true");
  expect(await page.evaluate(() => window.__promenadeMarker)).toBe("still here");

  // Back to the releases: a page load, the main bundle again (from the cache).
  await nav.getByRole("link", { name: "Releases" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Releases" })).toBeVisible();
  await hydrated(page);
  expect(await page.evaluate(() => window.__promenadeMarker)).toBeUndefined();
  expect(await bundleOf(page)).toBe("promenade");

  // Settings, and a product's delivery figures, come with the third bundle.
  await nav.getByRole("link", { name: "Settings" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Settings" })).toBeVisible();
  await hydrated(page);
  expect(await bundleOf(page)).toBe("promenade-settings");
  await page.goto("/products/shop/delivery");
  await hydrated(page);
  expect(await bundleOf(page)).toBe("promenade-settings");
  expect([...new Set(wasm)].sort()).toEqual(["promenade", "promenade-designer", "promenade-settings"]);

  // A page of another bundle reached by history navigation is fetched from the server,
  // which brings its bundle along.
  await page.goto("/releases");
  await hydrated(page);
  expect(await bundleOf(page)).toBe("promenade");
  await page.evaluate(() => {
    window.__promenadeMarker = "still here";
    history.pushState(null, "", "/flows/standard");
    dispatchEvent(new PopStateEvent("popstate"));
  });
  await expect(page.getByTestId("flow-designer")).toHaveAttribute("data-ready", "true");
  await hydrated(page);
  expect(await page.evaluate(() => window.__promenadeMarker)).toBeUndefined();
  expect(await bundleOf(page)).toBe("promenade-designer");
  expect(errors).toEqual([]);
});

test("an unknown address answers 404 with a page that leads back", async ({ page }) => {
  await signIn(page, "/");
  const response = await page.goto("/no-such-page");
  expect(response.status()).toBe(404);
  await expect(page.getByRole("heading", { level: 1, name: "Page not found" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Back to the products" })).toHaveAttribute("href", "/");
});

test("the probes answer", async ({ request }) => {
  const health = await request.get("/healthz");
  expect(health.status()).toBe(200);
  expect(await health.json()).toEqual({ status: "ok" });

  const ready = await request.get("/readyz");
  expect(ready.status()).toBe(200);
  expect(await ready.json()).toEqual({ status: "ready" });
});
