// The products dashboard, one-click promote with preview, and the live release view,
// against the demo product `shop` (web, api, worker; dev → qa → staging-eu/us → prod).
import { test, expect, RELEASE, hydrated, signIn } from "./support.mjs";

test.describe.configure({ mode: "serial" });

/** Waits until the dashboard's table runs in the browser (it hydrates after the page). */
async function dashboardLive(page) {
  await hydrated(page);
  await expect(page.locator(".table-scroll[data-live]")).toHaveCount(1);
}

/** Opens the dashboard's "Pause or stop the line" forms (whether or not they are). */
async function openForms(control) {
  await control.locator("details").evaluate((details) => {
    details.open = true;
  });
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

  await expect(page.getByTestId("rows-shown")).toHaveText("Applications 1–3 of 3");
  await page.getByLabel("Filter applications by name").fill("WORK");
  await expect(page.locator("tbody th.app-name")).toHaveText(["worker"]);
  await expect(page.getByTestId("rows-shown")).toHaveText("Applications 1–1 of 1 (3 in the product)");
  // The filter is in the address: a reload, or a link, shows the same rows.
  await expect(page).toHaveURL(/\?q=WORK$/);
  await page.reload();
  await dashboardLive(page);
  await expect(page.locator("tbody th.app-name")).toHaveText(["worker"]);
  await expect(page.getByLabel("Filter applications by name")).toHaveValue("WORK");
  await page.getByLabel("Filter applications by name").fill("");
  await expect(page.locator("tbody th.app-name")).toHaveText(["web", "api", "worker"]);
  await page.getByLabel("Drift only").check();
  await expect(page).toHaveURL(/\?drift=1$/);
  await expect(page.locator("tbody th.app-name")).toContainText(["api"]);
  for (const row of await page.locator("tbody tr:not(.summary-row)").all()) {
    await expect(row.locator(".badge.drift").first()).toBeVisible();
  }
  await page.getByLabel("Drift only").uncheck();
  await expect(page.locator("tbody th.app-name")).toHaveText(["web", "api", "worker"]);
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

  await page.getByRole("button", { name: "Promote here: everything to qa" }).click();
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

  // Each application links to the change it received, read back from git.
  const applications = page.getByRole("region", { name: "Applications" });
  await expect(applications.getByTestId("release-rows-shown")).toHaveText("Applications 1–3 of 3");
  await applications.getByLabel("Show applications in state").selectOption("succeeded");
  await expect(applications.getByRole("row")).toHaveCount(4);
  await applications.getByLabel("Show applications in state").selectOption("");
  await applications.getByRole("button", { name: /the change to web in qa$/ }).click();
  const change = page.getByRole("region", { name: "Change to web in qa" });
  await expect(change.locator("pre.diff .add").first()).toHaveText('+  tag: "1.5.0"  # the version running here');
  await expect(change.locator("pre.diff .del").first()).toHaveText('-  tag: "1.4.0"  # the version running here');
  await change.getByRole("button", { name: "Close" }).click();
  await expect(change).toHaveCount(0);

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

  // The keyboard path to the same thing: the dashboard's one promote menu, the next
  // environments first.
  await page.goto("/");
  await dashboardLive(page);
  await expect(page.getByRole("menu")).toHaveCount(0);
  await cell(page, "api", "qa").getByRole("button", { name: "Promote api from qa to…" }).press("Enter");
  const menu = page.getByRole("menu", { name: "Promote api from qa to" });
  await expect(menu.getByRole("menuitem")).toHaveText(["staging-eu (next)", "staging-us (next)", "dev", "prod"]);
  await expect(menu.getByRole("menuitem").first()).toBeFocused();
  await page.keyboard.press("Escape");
  await expect(page.getByRole("menu")).toHaveCount(0);
  await expect(cell(page, "api", "qa").getByRole("button", { name: "Promote api from qa to…" })).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(menu.getByRole("menuitem").first()).toBeFocused();
  await page.keyboard.press("ArrowDown");
  await expect(menu.getByRole("menuitem", { name: "staging-us (next)" })).toBeFocused();
  await page.keyboard.press("ArrowUp");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("menu")).toHaveCount(0);
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

  // Compared with the first release, taken from the same dev content: nothing differs.
  const compare = page.getByRole("region", { name: "Compare" });
  const others = compare.getByLabel("What this release changes compared with");
  // The choices load after the page: the earlier release must be listed before counting.
  await expect(others.locator("option").nth(1)).toBeAttached();
  const oldest = (await others.locator("option").count()) - 1;
  await others.selectOption({ index: oldest });
  await expect(compare.getByTestId("comparison-summary")).toHaveText("1.5.0 → 1.5.0: 0 applications differ, 3 unchanged");

  await page.goto("/releases?status=terminated");
  await expect(page.locator(".release-table tbody tr")).toHaveCount(1);
});

test("stop the line: a blocked version is marked, cannot be promoted, and is let through again; a pause is lifted", async ({ page }) => {
  await signIn(page, "/");
  await dashboardLive(page);
  const blocked = page.getByTestId("line-control");
  await openForms(blocked);
  await blocked.getByLabel("Version", { exact: true }).fill("1.5.0");
  await blocked.getByLabel("Reason", { exact: true }).fill("breaks checkout");
  await blocked.getByRole("button", { name: "Block" }).click();
  await expect(blocked.locator('li[data-version="1.5.0"]')).toContainText("breaks checkout");
  await expect(cell(page, "web", "dev").locator(".badge.blocked")).toBeVisible();
  await expect(cell(page, "web", "dev")).toHaveClass(/blocked/);

  await page.getByRole("button", { name: "Promote here: everything to qa" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByRole("button", { name: "Confirm and promote" }).click();
  await expect(dialog.getByRole("alert")).toContainText("version 1.5.0 of shop is blocked by admin (breaks checkout)");
  await dialog.getByRole("button", { name: "Cancel" }).click();

  await blocked.getByRole("button", { name: "Unblock 1.5.0" }).click();
  await expect(blocked.locator("li")).toHaveCount(0);
  await expect(page.locator(".cell .badge.blocked")).toHaveCount(0);

  // Pausing the product, then resuming it.
  await openForms(blocked);
  await blocked.getByLabel("Where", { exact: true }).selectOption("prod");
  await blocked.getByLabel("Why", { exact: true }).fill("change window");
  await blocked.getByRole("button", { name: "Pause", exact: true }).click();
  await expect(blocked.locator('li[data-paused="prod"]')).toContainText("change window");
  await blocked.getByRole("button", { name: "Resume prod" }).click();
  await expect(blocked.locator("li")).toHaveCount(0);
});

test("the delivery page shows the four figures and a chart per day", async ({ page }) => {
  await signIn(page, "/");
  await dashboardLive(page);
  await page.getByRole("link", { name: "Delivery figures" }).click();
  await expect(page).toHaveURL(/\/products\/shop\/delivery$/);
  const figures = page.getByTestId("delivery-figures");
  for (const name of ["Deployments to production", "Lead time (median)", "Change failure rate", "Time to restore (median)"]) {
    await expect(figures.getByText(name)).toBeVisible();
  }
  await expect(page.getByRole("img", { name: /Deployments per day/ }).locator("g")).toHaveCount(30);
  await page.getByRole("link", { name: "7 days" }).click();
  await expect(page).toHaveURL(/days=7$/);
  await expect(page.getByRole("img", { name: /Deployments per day/ }).locator("g")).toHaveCount(7);
});
