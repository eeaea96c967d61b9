// The flow designer (issue 5): the same five-environment flow with parallel branches,
// drawn once with the mouse only and once with the keyboard only, checked against the
// YAML panel; YAML edits redraw the canvas; cycles are refused; saves survive a reload
// and conflicting saves are caught. The demo gives dev, qa, staging-eu, staging-us and
// prod, the `standard` flow and the `shop` product.
import { test, expect, RELEASE, signIn } from "./support.mjs";

// Wide enough for the palette, a canvas that holds the flow at 100 % and the YAML.
test.use({ viewport: { width: 1920, height: 1080 } });

const PARALLEL_SPEC = `spec:
  triggerEnvironment: dev
  steps:
  - environment: qa
    dependsOn:
    - dev
  - environment: staging-eu
    dependsOn:
    - qa
  - environment: staging-us
    dependsOn:
    - qa
  - environment: prod
    dependsOn:
    - staging-eu
    - staging-us
`;

/** Signs in and opens a designer page; returns the page errors seen from then on. */
async function openDesigner(page, path) {
  // Signing in straight to a deep link can race the sign-in form's hydration and
  // land on "/", so sign in first and then open the page. Errors of the page signed
  // in to are not this file's business: leave it before listening.
  await signIn(page, "/");
  await page.goto("about:blank");
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  await page.goto(path);
  await expect(page.getByTestId("flow-designer")).toHaveAttribute("data-ready", "true");
  return errors;
}

const yaml = (page) => page.getByTestId("yaml-panel");
const node = (page, name) => page.getByTestId(`node-${name}`);
const announcer = (page) => page.getByTestId("announcer");

async function centre(locator) {
  const box = await locator.boundingBox();
  return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
}

/** Drags a palette entry and drops it at (x, y) inside the canvas. */
async function dropFromPalette(page, environment, x, y) {
  const item = page.locator(`.fd-palette-item[data-env="${environment}"]`);
  // Other tests may have added environments: the palette scrolls.
  await item.scrollIntoViewIfNeeded();
  const canvas = await page.getByTestId("flow-canvas").boundingBox();
  const from = await centre(item);
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  await page.mouse.move(canvas.x + x, canvas.y + y, { steps: 12 });
  await page.mouse.up();
}

/** Drags from a node's output handle to another node's input handle. */
async function connect(page, from, to) {
  const start = await centre(node(page, from).locator(".fd-handle-out"));
  const end = await centre(node(page, to).locator(".fd-handle-in"));
  await page.mouse.move(start.x, start.y);
  await page.mouse.down();
  await page.mouse.move(end.x, end.y, { steps: 12 });
  await page.mouse.up();
}

test("builds a flow with parallel branches with the mouse, edits it as YAML, saves and reloads it", async ({ page }, testInfo) => {
  test.setTimeout(120_000);
  const errors = await openDesigner(page, "/flows/new");

  await test.step("drag five environments from the palette", async () => {
    await dropFromPalette(page, "dev", 130, 240);
    await expect(announcer(page)).toContainText("Added dev as the trigger environment");
    await dropFromPalette(page, "qa", 400, 240);
    await dropFromPalette(page, "staging-eu", 670, 140);
    await dropFromPalette(page, "staging-us", 670, 340);
    await dropFromPalette(page, "prod", 940, 240);
    for (const env of ["dev", "qa", "staging-eu", "staging-us", "prod"]) {
      await expect(node(page, env)).toBeVisible();
    }
    await expect(node(page, "dev")).toHaveClass(/fd-trigger/);
    await expect(node(page, "prod")).toHaveClass(/fd-prod/);
    // Unconnected steps are flagged as unreachable while drawing.
    await expect(node(page, "qa")).toHaveClass(/fd-invalid/);
    await expect(page.getByTestId("yaml-problems")).toContainText("step `qa` is not reachable");
  });

  await test.step("a second qa is refused", async () => {
    await dropFromPalette(page, "qa", 400, 480);
    await expect(announcer(page)).toContainText("Refused: qa is already in this flow");
    await expect(page.locator(".fd-node")).toHaveCount(5);
  });

  await test.step("connect the handles, branching after qa and joining at prod", async () => {
    await connect(page, "dev", "qa");
    await expect(announcer(page)).toContainText("Connected dev → qa");
    await connect(page, "qa", "staging-eu");
    await connect(page, "qa", "staging-us");
    await connect(page, "staging-eu", "prod");
    await connect(page, "staging-us", "prod");
    await expect(page.locator(".fd-edge")).toHaveCount(5);
    await expect(page.getByTestId("yaml-status")).toHaveText("Valid");
    const text = await yaml(page).inputValue();
    expect(text).toContain("kind: PromotionFlow\nmetadata:\n  name: new-flow\n");
    expect(text).toContain(PARALLEL_SPEC);
    expect(text).toMatch(/promenade\.dev\/layout: '\{"dev":\[-?\d+,-?\d+\],"prod":\[-?\d+,-?\d+\],"qa":\[-?\d+,-?\d+\],"staging-eu":\[-?\d+,-?\d+\],"staging-us":\[-?\d+,-?\d+\]\}'/);
    await page.screenshot({ path: testInfo.outputPath("designer-mouse-flow.png") });
  });

  await test.step("a connection that closes a cycle is refused", async () => {
    const before = await yaml(page).inputValue();
    await connect(page, "prod", "qa");
    await expect(announcer(page)).toContainText(
      "Refused: that connection would create a cycle: prod → qa → staging-eu → prod",
    );
    await expect(page.locator('[data-edge="prod->qa"]')).toHaveCount(0);
    expect(await yaml(page).inputValue()).toBe(before);
    await page.screenshot({ path: testInfo.outputPath("designer-cycle-refused.png") });
  });

  await test.step("dragging a node moves it on the grid and undo puts it back as one step", async () => {
    const before = await yaml(page).inputValue();
    const placed = await node(page, "staging-us").getAttribute("style");
    const from = await centre(node(page, "staging-us"));
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    for (let i = 1; i <= 10; i++) {
      await page.mouse.move(from.x + i * 3, from.y + i * 6);
    }
    await page.mouse.up();
    await expect(announcer(page)).toContainText("Moved staging-us to");
    const moved = await yaml(page).inputValue();
    expect(moved).not.toBe(before);
    expect(moved).toMatch(/"staging-us":\[\d+0,\d+0\]/);
    await page.getByRole("button", { name: "Undo" }).click();
    await expect(announcer(page)).toContainText("Undid: move staging-us");
    expect(await yaml(page).inputValue()).toBe(before);
    await expect(node(page, "staging-us")).toHaveAttribute("style", placed);
    await page.getByRole("button", { name: "Redo" }).click();
    expect(await yaml(page).inputValue()).toBe(moved);
  });

  await test.step("the inspector explains the effective policy of prod", async () => {
    await node(page, "prod").click();
    await expect(page.getByTestId("inspector-title")).toHaveText("prod");
    await expect(page.getByTestId("depends-on")).toContainText("staging-eu");
    await expect(page.getByTestId("effective-policy")).toBeVisible();
    await expect(node(page, "prod")).toContainText("apps");
  });

  await test.step("a new environment from the palette, added by editing the YAML", async () => {
    await page.getByLabel("New environment").fill("hotfix");
    await page.getByRole("button", { name: "Create" }).click();
    await expect(announcer(page)).toContainText("Created environment hotfix");
    await expect(page.locator('.fd-palette-item[data-env="hotfix"]')).toBeVisible();
    const text = await yaml(page).inputValue();
    const edited = text.replace(
      "  - environment: prod\n",
      "  - environment: hotfix\n    dependsOn:\n    - dev\n  - environment: prod\n",
    );
    expect(edited).not.toBe(text);
    await yaml(page).fill(edited);
    await expect(node(page, "hotfix")).toBeVisible();
    await expect(page.locator('[data-edge="dev->hotfix"]')).toHaveCount(1);
    await expect(page.getByTestId("yaml-status")).toHaveText("Valid");
    // The panel keeps the text as typed.
    expect(await yaml(page).inputValue()).toBe(edited);
    await page.screenshot({ path: testInfo.outputPath("designer-yaml-edit.png") });
  });

  await test.step("text that is not a flow keeps the user's text and locks the canvas", async () => {
    const good = await yaml(page).inputValue();
    const broken = good.replace("  steps:\n", "  steps: [\n");
    await yaml(page).fill(broken);
    await expect(page.getByTestId("yaml-problems")).toContainText("Line ");
    await expect(page.locator(".fd-locked-note")).toBeVisible();
    await expect(node(page, "hotfix")).toBeVisible();
    expect(await yaml(page).inputValue()).toBe(broken);
    await yaml(page).fill(good);
    await expect(page.locator(".fd-locked-note")).toHaveCount(0);
    await expect(page.getByTestId("yaml-status")).toHaveText("Valid");
  });

  await test.step("save, reload, and see the same flow", async () => {
    await page.getByTestId("save-flow").click();
    await expect(page).toHaveURL(/\/flows\/new-flow$/);
    await expect(page.getByTestId("flow-designer")).toHaveAttribute("data-ready", "true");
    await expect(page.getByTestId("save-status")).toContainText("Saved: revision 1 by admin");
    const saved = await yaml(page).inputValue();
    expect(saved).toContain("  - environment: hotfix\n");
    await page.reload();
    await expect(page.getByTestId("flow-designer")).toHaveAttribute("data-ready", "true");
    expect(await yaml(page).inputValue()).toBe(saved);
    await expect(page.locator(".fd-node")).toHaveCount(6);
    await expect(page.locator(".fd-edge")).toHaveCount(6);
    await page.screenshot({ path: testInfo.outputPath("designer-reloaded.png") });
  });

  await test.step("the list shows the flow with its products and last change", async () => {
    await page.goto("/flows");
    const list = page.getByTestId("flow-list");
    await expect(list.getByRole("link", { name: "new-flow" })).toBeVisible();
    await expect(list.getByRole("row", { name: /standard/ })).toContainText("shop");
    await expect(list.getByRole("row", { name: /new-flow/ })).toContainText("revision 1 by admin");
  });
  expect(errors).toEqual([]);
});

test("builds the same flow with the keyboard only", RELEASE, async ({ page }, testInfo) => {
  test.setTimeout(120_000);
  const errors = await openDesigner(page, "/flows/new");
  const press = (key) => page.keyboard.press(key);

  await page.getByTestId("flow-name").focus();
  await press("ControlOrMeta+a");
  // Unique, so the test can be repeated against one server.
  const flowName = `keyboard-${Date.now().toString(36)}`;
  await page.keyboard.type(flowName);

  // Enter on a palette entry adds it; the first becomes the trigger.
  for (const env of ["dev", "qa", "staging-eu", "staging-us", "prod"]) {
    await page.locator(`.fd-palette-item[data-env="${env}"]`).focus();
    await press("Enter");
    await expect(node(page, env)).toBeVisible();
  }
  await expect(announcer(page)).toContainText("Added prod");

  // Tab moves from node to node, in flow order.
  await node(page, "dev").focus();
  await press("Tab");
  await expect(node(page, "qa")).toBeFocused();

  // Delete removes the focused node; Ctrl+Z brings it back.
  await node(page, "prod").focus();
  await press("Delete");
  await expect(node(page, "prod")).toHaveCount(0);
  await expect(announcer(page)).toContainText("Deleted prod");
  await page.getByTestId("flow-canvas").focus();
  await press("ControlOrMeta+z");
  await expect(node(page, "prod")).toBeVisible();

  // "Connect to…" is the keyboard's way to draw an edge: C on a node opens it.
  const connectTo = async (from, downs) => {
    await node(page, from).focus();
    await press("c");
    // Focus moves into the menu on the next frame.
    await expect(page.locator("#fd-connect-menu [role=menuitem]:focus")).toHaveCount(1);
    for (let i = 0; i < downs; i++) {
      await press("ArrowDown");
    }
    await press("Enter");
    await expect(page.getByRole("menu")).toHaveCount(0);
  };
  await connectTo("dev", 0); // qa
  await expect(announcer(page)).toContainText("Connected dev → qa");
  await connectTo("qa", 1); // staging-eu (after dev)
  await connectTo("qa", 2); // staging-us
  await connectTo("staging-eu", 3); // prod
  await connectTo("staging-us", 3); // prod
  // A cycle is refused from the keyboard too.
  await connectTo("prod", 1); // qa
  await expect(announcer(page)).toContainText("Refused: that connection would create a cycle");

  // Arrow keys move the focused node on the grid; Shift moves faster.
  await node(page, "staging-us").focus();
  await press("ArrowDown");
  await expect(announcer(page)).toContainText("Moved staging-us to");
  const moved = (await announcer(page).textContent()).match(/to (-?\d+), (-?\d+)/);
  await press("Shift+ArrowRight");
  const [x, y] = [Number(moved[1]) + 100, Number(moved[2])];
  await expect(announcer(page)).toContainText(`Moved staging-us to ${x}, ${y}`);
  await expect(node(page, "staging-us")).toHaveAttribute("style", new RegExp(`translate\\(${x}px, ${y}px\\)`));

  // Enter opens the inspector on that node.
  await node(page, "prod").focus();
  await press("Enter");
  await expect(page.getByTestId("inspector-title")).toBeFocused();
  await expect(page.getByTestId("inspector-title")).toHaveText("prod");

  await page.getByRole("button", { name: "Auto-layout" }).focus();
  await press("Enter");
  await expect(page.getByTestId("yaml-status")).toHaveText("Valid");
  const text = await yaml(page).inputValue();
  expect(text).toContain(`  name: ${flowName}\n`);
  expect(text).toContain(
    `promenade.dev/layout: '{"dev":[0,0],"prod":[840,0],"qa":[280,0],"staging-eu":[560,-60],"staging-us":[560,60]}'`,
  );
  expect(text).toContain(PARALLEL_SPEC);
  await page.screenshot({ path: testInfo.outputPath("designer-keyboard-flow.png") });

  await press("ControlOrMeta+s");
  await expect(page).toHaveURL(new RegExp(`/flows/${flowName}$`));
  await expect(page.getByTestId("flow-designer")).toHaveAttribute("data-ready", "true");
  expect(await yaml(page).inputValue()).toBe(text);
  expect(errors).toEqual([]);
});

test("a save over someone else's newer save is caught and can overwrite it", async ({ browser, page }, testInfo) => {
  test.setTimeout(90_000);
  await openDesigner(page, "/flows/standard");
  const other = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
  await openDesigner(other, "/flows/standard");

  // Both open revision n; the other one saves first.
  await node(other, "qa").focus();
  await other.keyboard.press("ArrowDown");
  await other.getByTestId("save-flow").click();
  await expect(other.getByTestId("save-status")).toContainText("Saved: revision");

  await node(page, "prod").focus();
  await page.keyboard.press("ArrowUp");
  await page.getByTestId("save-flow").click();
  const conflict = page.getByTestId("save-conflict");
  await expect(conflict).toContainText("was changed by admin");
  await page.screenshot({ path: testInfo.outputPath("designer-conflict.png") });

  await conflict.getByRole("button", { name: "Overwrite with mine" }).click();
  await expect(page.getByTestId("save-status")).toContainText("Saved: revision");
  await expect(conflict).toHaveCount(0);

  // Revert is back to what was saved last.
  await node(page, "prod").focus();
  await page.keyboard.press("ArrowUp");
  await expect(page.getByTestId("save-status")).toHaveText("Unsaved changes");
  await page.getByRole("button", { name: "Revert" }).click();
  await expect(page.getByTestId("save-status")).toContainText("Saved: revision");
  await other.close();
});

test("leaving a flow with unsaved changes asks first, by link or by closing the page", async ({ page }) => {
  await openDesigner(page, "/flows/standard");
  // Nothing to lose: a link just leaves.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Releases" }).click();
  await expect(page).toHaveURL(/\/releases$/);

  await openDesigner(page, "/flows/standard");
  await node(page, "qa").focus();
  await page.keyboard.press("ArrowDown");
  await expect(page.getByTestId("save-status")).toHaveText("Unsaved changes");
  const asked = [];
  page.once("dialog", (dialog) => {
    asked.push(dialog.message());
    dialog.dismiss();
  });
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Releases" }).click();
  await expect.poll(() => asked).toEqual(["Leave this flow? Its unsaved changes will be lost."]);
  await expect(page).toHaveURL(/\/flows\/standard$/);
  await expect(page.getByTestId("save-status")).toHaveText("Unsaved changes");

  // Closing the tab asks the browser's own question.
  const unloading = new Promise((resolve) => page.once("dialog", (dialog) => {
    resolve(dialog.type());
    dialog.accept();
  }));
  await page.close({ runBeforeUnload: true });
  expect(await unloading).toBe("beforeunload");
});

test("pans, zooms, selects with a rubber band, and edits an inline policy", async ({ page }, testInfo) => {
  test.setTimeout(90_000);
  const errors = await openDesigner(page, "/flows/standard");
  const canvas = page.getByTestId("flow-canvas");
  const layer = page.locator(".fd-layer");
  const zoom = page.locator(".fd-zoom-level");
  const box = await canvas.boundingBox();

  // Wheel zooms around the pointer; the buttons and fit view too.
  const before = await zoom.textContent();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.wheel(0, -400);
  await expect(zoom).not.toHaveText(before);
  await page.getByRole("button", { name: "Zoom out" }).click();
  await page.getByRole("button", { name: "Fit view" }).click();
  await expect(zoom).toHaveText("100%");

  // Dragging empty space pans; so does Space + drag over a node, which stays put.
  const spot = { x: box.x + 20, y: box.y + box.height - 60 };
  let transform = await layer.getAttribute("style");
  await page.mouse.move(spot.x, spot.y);
  await page.mouse.down();
  await page.mouse.move(spot.x + 80, spot.y - 30, { steps: 5 });
  await page.mouse.up();
  await expect(layer).not.toHaveAttribute("style", transform);
  transform = await layer.getAttribute("style");
  const qa = node(page, "qa");
  const qaStyle = await qa.getAttribute("style");
  await canvas.focus();
  await page.keyboard.down(" ");
  const onQa = await centre(qa);
  await page.mouse.move(onQa.x, onQa.y);
  await page.mouse.down();
  await page.mouse.move(onQa.x + 60, onQa.y + 40, { steps: 5 });
  await page.mouse.up();
  await page.keyboard.up(" ");
  await expect(layer).not.toHaveAttribute("style", transform);
  await expect(qa).toHaveAttribute("style", qaStyle);

  // Shift + drag on empty space draws a rubber band that selects what it touches.
  await page.getByRole("button", { name: "Fit view" }).click();
  const first = await node(page, "qa").boundingBox();
  const last = await node(page, "staging-us").boundingBox();
  await page.keyboard.down("Shift");
  await page.mouse.move(first.x - 10, Math.min(first.y, last.y) - 30);
  await page.mouse.down();
  await page.mouse.move(last.x + last.width + 5, Math.max(first.y, last.y) + last.height + 30, { steps: 8 });
  await page.mouse.up();
  await page.keyboard.up("Shift");
  await expect(node(page, "qa")).toHaveAttribute("aria-pressed", "true");
  await expect(node(page, "staging-us")).toHaveAttribute("aria-pressed", "true");
  await expect(node(page, "dev")).toHaveAttribute("aria-pressed", "false");
  await expect(announcer(page)).toContainText("nodes selected");
  await page.screenshot({ path: testInfo.outputPath("designer-rubber-band.png") });

  // Clicking an edge selects it; the inspector removes it.
  const onEdge = await page.locator('[data-edge="dev->qa"] .fd-edge-line').evaluate((path) => {
    const point = path.getPointAtLength(path.getTotalLength() / 2);
    const m = path.getScreenCTM();
    return { x: point.x * m.a + point.y * m.c + m.e, y: point.x * m.b + point.y * m.d + m.f };
  });
  await page.mouse.click(onEdge.x, onEdge.y);
  await expect(page.getByTestId("inspector")).toContainText("qa waits for dev.");

  // The inspector edits the step's inline policy, and the YAML follows.
  await node(page, "qa").click();
  await page.getByTestId("inline-action").selectOption("pr");
  await expect(yaml(page)).toHaveValue(/- environment: qa\n    dependsOn:\n    - dev\n    policy:\n      action: pr\n/);
  await page.getByRole("button", { name: "Add to gates" }).click();
  await expect(yaml(page)).toHaveValue(/      gates:\n      - approval:\n          count: 1\n/);
  await expect(page.getByTestId("effective-policy")).toContainText("flow `standard`, step `qa`");

  // The gate's settings are a form: checked while typing, written when the field is left.
  const count = page.getByLabel("Approvals needed (gates 1)");
  await expect(count).toHaveValue("1");
  await count.fill("0");
  await expect(page.getByRole("alert").filter({ hasText: "Approvals needed" })).toBeVisible();
  await count.fill("2");
  await expect(page.getByRole("alert").filter({ hasText: "Approvals needed" })).toHaveCount(0);
  await count.press("Tab");
  await expect(yaml(page)).toHaveValue(/      gates:\n      - approval:\n          count: 2\n/);
  await page.getByLabel("Roles that may approve (comma-separated) (gates 1)").fill("release-manager");
  await page.getByLabel("Roles that may approve (comma-separated) (gates 1)").press("Tab");
  await expect(yaml(page)).toHaveValue(/          roles:\n          - release-manager\n/);
  await page.getByLabel("Kind of action to add to gates").selectOption("soak");
  await page.getByRole("button", { name: "Add to gates" }).click();
  const duration = page.getByLabel("Duration (30m, 2h, 1d) (gates 2)");
  await expect(duration).toHaveValue("30m");
  await duration.fill("soon");
  await expect(page.getByRole("alert").filter({ hasText: "Duration" })).toBeVisible();
  await duration.fill("2h");
  await duration.press("Tab");
  await expect(yaml(page)).toHaveValue(/      - soak:\n          after: upstream\n          duration: 2h\n/);

  // A pull-request step's settings are a form too; "no" overrides, empty inherits.
  await page.getByLabel("Merge method (pull request)").selectOption("squash");
  await expect(yaml(page)).toHaveValue(/      action: pr\n      pullRequest:\n        mergeMethod: squash\n/);
  await page.getByLabel("Merge once checks pass (pull request)").selectOption("false");
  await page.getByLabel("Labels (comma-separated) (pull request)").fill("promotion, shop");
  await page.getByLabel("Labels (comma-separated) (pull request)").press("Tab");
  await expect(yaml(page)).toHaveValue(/      pullRequest:\n        autoMerge: false\n        mergeMethod: squash\n        labels:\n        - promotion\n        - shop\n/);

  // With nothing selected the inspector shows the flow's hooks.
  await canvas.focus();
  await page.keyboard.press("Escape");
  await expect(page.getByTestId("inspector")).toContainText("When a release fails");
  await page.getByRole("button", { name: "Add to onFailure" }).click();
  await expect(yaml(page)).toHaveValue(/\n  hooks:\n    onFailure:\n    - http:\n        url: https:\/\/example\.com\/health\n/);
  const hookUrl = page.getByLabel("URL (onFailure 1)");
  await hookUrl.fill("ftp://hooks.example");
  await expect(page.getByRole("alert").filter({ hasText: "is not an http:// or https:// URL" })).toBeVisible();
  await hookUrl.fill("https://hooks.example/promenade");
  await hookUrl.press("Tab");
  await expect(yaml(page)).toHaveValue(/    - http:\n        url: https:\/\/hooks\.example\/promenade\n/);
  await expect(page.getByLabel("Kind of action to add to onSuccess").locator("option")).toHaveText(["http", "workflow", "command"]);

  // The flow's page names the products that use it.
  await expect(page.getByTestId("flow-products")).toContainText("Used by shop");
  await expect(page.getByTestId("flow-products").getByRole("link", { name: "shop" })).toHaveAttribute("href", "/products/shop");

  // The minimap recentres the view; the download link carries the YAML.
  transform = await layer.getAttribute("style");
  const map = await page.locator(".fd-minimap").boundingBox();
  await page.mouse.click(map.x + 10, map.y + 10);
  await expect(layer).not.toHaveAttribute("style", transform);
  const href = await page.getByRole("link", { name: "Download YAML" }).getAttribute("href");
  expect(decodeURIComponent(href.replace("data:application/yaml;charset=utf-8,", ""))).toBe(await yaml(page).inputValue());
  await expect(page.getByRole("link", { name: "Download YAML" })).toHaveAttribute("download", "standard.yaml");
  expect(errors).toEqual([]);
});

test.describe("on a touch screen", () => {
  test.use({ hasTouch: true });

  /** One finger from `from` to `to`, as the browser's touch input delivers it. */
  async function swipe(cdp, from, to) {
    const point = (t) => [{ x: from.x + (to.x - from.x) * t, y: from.y + (to.y - from.y) * t }];
    await cdp.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: point(0) });
    for (let step = 1; step <= 12; step++) {
      await cdp.send("Input.dispatchTouchEvent", { type: "touchMove", touchPoints: point(step / 12) });
    }
    await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
  }

  test("drags environments from the palette, connects and moves them with a finger", async ({ page }) => {
    test.setTimeout(90_000);
    const errors = await openDesigner(page, "/flows/new");
    const cdp = await page.context().newCDPSession(page);
    await page.evaluate(() => {
      window.pointerTypes = new Set();
      document.addEventListener("pointerdown", (e) => window.pointerTypes.add(e.pointerType), true);
    });
    const canvas = await page.getByTestId("flow-canvas").boundingBox();
    const palette = (environment) => centre(page.locator(`.fd-palette-item[data-env="${environment}"]`));

    await swipe(cdp, await palette("dev"), { x: canvas.x + 150, y: canvas.y + 200 });
    await expect(announcer(page)).toContainText("Added dev as the trigger environment");
    await swipe(cdp, await palette("qa"), { x: canvas.x + 450, y: canvas.y + 200 });
    await expect(node(page, "qa")).toBeVisible();

    await swipe(
      cdp,
      await centre(node(page, "dev").locator(".fd-handle-out")),
      await centre(node(page, "qa").locator(".fd-handle-in")),
    );
    await expect(announcer(page)).toContainText("Connected dev → qa");
    await expect(yaml(page)).toHaveValue(/  - environment: qa\n    dependsOn:\n    - dev\n/);

    const before = await node(page, "qa").boundingBox();
    const grip = await centre(node(page, "qa"));
    await swipe(cdp, grip, { x: grip.x + 120, y: grip.y + 160 });
    await expect.poll(async () => (await node(page, "qa").boundingBox()).y).toBeGreaterThan(before.y + 100);
    await expect(yaml(page)).toHaveValue(/"qa":\[\d+,\d+\]/);

    expect(await page.evaluate(() => [...window.pointerTypes])).toEqual(["touch"]);
    expect(errors).toEqual([]);
  });
});
