// Performance of the flow designer: a flow of 200 environments, one node dragged for
// two seconds, frames per second counted in the page. The figure is printed and kept
// in docs/performance.md; the target is at least 50, on the release bundles.
import { test, expect, RELEASE, signIn } from "./support.mjs";

// No trace: recording one snapshots the page on every pointer move, which halves the
// frame rate this test measures (35 instead of 57 frames per second here).
test.use({ viewport: { width: 1920, height: 1080 }, trace: "off" });

const NODES = 200;
const ROWS = 10;
const name = (i) => `perf-${String(i).padStart(3, "0")}`;

/** The trigger, then 20 layers of 10 steps: each step waits for the one left of it
 * (the first layer for the trigger), placed where the auto-layout would put them. */
function flowYaml() {
  const layout = { [name(0)]: [0, 540] };
  const steps = [];
  for (let i = 1; i < NODES; i++) {
    const layer = Math.floor((i - 1) / ROWS);
    const row = (i - 1) % ROWS;
    layout[name(i)] = [(layer + 1) * 280, row * 120];
    const upstream = layer === 0 ? name(0) : name(i - ROWS);
    steps.push(`  - environment: ${name(i)}\n    dependsOn:\n    - ${upstream}`);
  }
  return [
    "apiVersion: promenade.dev/v1alpha1",
    "kind: PromotionFlow",
    "metadata:",
    "  name: two-hundred",
    "  annotations:",
    `    promenade.dev/layout: '${JSON.stringify(layout)}'`,
    "spec:",
    `  triggerEnvironment: ${name(0)}`,
    "  steps:",
    ...steps,
    "",
  ].join("\n");
}

test("dragging a node of a 200-node flow keeps at least 50 frames per second", RELEASE, async ({ page }, testInfo) => {
  // A frame rate is a property of what ships: the optimised bundle. The debug bundle
  // runs the same drag in the other tests.
  test.skip(process.env.PROMENADE_E2E_BUNDLES === "debug", "measured on the release bundles");
  test.setTimeout(180_000);
  await signIn(page, "/");
  await page.goto("/flows/new");
  const designer = page.getByTestId("flow-designer");
  await expect(designer).toHaveAttribute("data-ready", "true");

  // The environments, through the designer's own server function.
  const created = await page.evaluate(async (names) => {
    let ok = 0;
    for (const environment of names) {
      const response = await fetch("/api/designer/create_environment", {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ name: environment, production: "false" }),
      });
      if (response.ok) ok++;
    }
    return ok;
  }, Array.from({ length: NODES }, (_, i) => name(i)));
  expect(created).toBe(NODES);
  await page.reload();
  await expect(designer).toHaveAttribute("data-ready", "true");

  await page.getByTestId("yaml-panel").fill(flowYaml());
  await expect(page.locator(".fd-node")).toHaveCount(NODES);
  await expect(page.locator(".fd-edge")).toHaveCount(NODES - 1);
  await expect(page.getByTestId("yaml-status")).toHaveText("Valid");
  await page.getByRole("button", { name: "Fit view" }).click();
  await page.screenshot({ path: testInfo.outputPath("designer-200-nodes.png") });

  const target = page.getByTestId(`node-${name(105)}`);
  const box = await target.boundingBox();
  const start = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  const before = await page.getByTestId("yaml-panel").inputValue();

  await page.evaluate(() => {
    window.__frames = [];
    const tick = (now) => {
      window.__frames.push(now);
      if (window.__frames.length < 100_000) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  await page.mouse.move(start.x, start.y);
  await page.mouse.down();
  const began = await page.evaluate(() => performance.now());
  const deadline = Date.now() + 2_000;
  let moves = 0;
  while (Date.now() < deadline) {
    const t = moves / 30;
    await page.mouse.move(start.x + 160 * Math.sin(t), start.y + 90 * (1 - Math.cos(t)));
    moves++;
  }
  const ended = await page.evaluate(() => performance.now());
  await page.mouse.up();
  const frames = await page.evaluate(
    ([from, to]) => window.__frames.filter((t) => t >= from && t <= to).length,
    [began, ended],
  );
  const seconds = (ended - began) / 1000;
  const fps = frames / seconds;
  const line = `flow designer, ${NODES} nodes: dragged one for ${seconds.toFixed(2)} s with ${moves} pointer moves, ${frames} frames = ${fps.toFixed(1)} frames per second`;
  console.log(line);
  testInfo.annotations.push({ type: "performance", description: line });

  // The drag really moved the node, as one undoable change.
  await expect(page.getByTestId("announcer")).toContainText(`Moved ${name(105)} to`);
  expect(await page.getByTestId("yaml-panel").inputValue()).not.toBe(before);
  await page.screenshot({ path: testInfo.outputPath("designer-200-nodes-dragged.png") });
  expect(fps).toBeGreaterThanOrEqual(50);
});
