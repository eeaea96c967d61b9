// The products dashboard at scale, in headless Chromium against what ships: the
// `promenade` binary and browser bundles the xtask built (`cargo xtask bench-ui`, which
// sets PROMENADE_BIN and PROMENADE_SITE_ROOT). For a product of N applications × 6
// environments (default 1,000; `cargo xtask bench-ui 5000` for another size) it prints:
// the page's HTML size, the time until the dashboard is usable (hydrated, controls
// working), the time a filter takes to show its rows, and the time from promoting one
// application until its cell shows the new version; then, for a release of every
// application, the release page's time to usable and the time to show one
// application's change. docs/performance.md keeps figures.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "@playwright/test";

const APPS = Number(process.argv[2] ?? 1000);
const ENVIRONMENTS = ["dev", "qa", "staging-eu", "staging-us", "prod-eu", "prod-us"];
const RUNS = 5;

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this through \`cargo xtask bench-ui\``);
  return value;
}
const binary = required("PROMENADE_BIN");
const site = required("PROMENADE_SITE_ROOT");

const name = (i) => `app-${String(i).padStart(4, "0")}`;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const ms = (value) => `${value.toFixed(0)} ms`;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

/** A GitOps monorepo: every application in every environment, dev one version ahead. */
function repository(dir) {
  const work = join(dir, "work");
  const git = (...args) => execFileSync("git", ["-C", work, ...args], { stdio: "ignore" });
  mkdirSync(work);
  git("init", "-q", "-b", "main");
  for (let i = 0; i < APPS; i++) {
    for (const env of ENVIRONMENTS) {
      const folder = join(work, "apps", name(i), env);
      mkdirSync(folder, { recursive: true });
      const tag = env === "dev" ? "2.0.0" : "1.0.0";
      writeFileSync(join(folder, "values.yaml"), `# ${name(i)} in ${env}\nimage:\n  tag: "${tag}"\n`);
    }
  }
  git("add", "-A");
  git("-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-q", "-m", "layout");
  const bare = join(dir, "gitops.git");
  execFileSync("git", ["clone", "-q", "--bare", work, bare]);
  return bare;
}

function resources(url) {
  const environments = ENVIRONMENTS.map(
    (env) =>
      `apiVersion: promenade.dev/v1alpha1\nkind: Environment\nmetadata: { name: ${env} }\n` +
      `spec: { kind: ${env.startsWith("prod") ? "prod" : "non-prod"} }\n---\n`,
  ).join("");
  const applications = Array.from(
    { length: APPS },
    (_, i) => `    - { name: ${name(i)}, path: "apps/${name(i)}/{env}" }\n`,
  ).join("");
  return `${environments}apiVersion: promenade.dev/v1alpha1
kind: Product
metadata: { name: shop }
spec:
  repository: { url: "file://${url}", branch: main }
  applications:
${applications}  template: tag
  flows: [ { name: standard } ]
---
apiVersion: promenade.dev/v1alpha1
kind: PromotionTemplate
metadata: { name: tag }
spec:
  versionSource: { file: values.yaml, path: "$.image.tag" }
  files: [ { path: values.yaml, attributes: ["$.image.tag"] } ]
---
apiVersion: promenade.dev/v1alpha1
kind: PromotionFlow
metadata: { name: standard }
spec:
  triggerEnvironment: dev
  steps:
    - { environment: qa, dependsOn: [dev] }
    - { environment: staging-eu, dependsOn: [qa] }
    - { environment: staging-us, dependsOn: [qa] }
    - { environment: prod-eu, dependsOn: [staging-eu] }
    - { environment: prod-us, dependsOn: [staging-us] }
`;
}

async function until(check, what, timeout = 60_000) {
  const end = Date.now() + timeout;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // Not up yet.
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const dir = mkdtempSync(join(tmpdir(), "promenade-bench-ui-"));
const data = join(dir, "data");
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const server = spawn(
  binary,
  ["serve", "--addr", `127.0.0.1:${port}`, "--data-dir", data, "--poll-interval", "0s", "--allow-local-repositories"],
  { env: { ...process.env, LEPTOS_SITE_ROOT: site, RUST_LOG: "warn" }, stdio: ["ignore", "inherit", "inherit"] },
);
let browser;
try {
  const started = Date.now();
  const bare = repository(dir);
  writeFileSync(join(dir, "resources.yaml"), resources(bare));
  console.log(`${APPS} applications × ${ENVIRONMENTS.length} environments: repository in ${Date.now() - started} ms`);
  await until(async () => (await fetch(`${base}/readyz`)).ok, "the server");
  const cli = (...args) =>
    // A release of thousands of applications is megabytes of JSON.
    execFileSync(binary, ["--server", base, "--data-dir", data, ...args], { encoding: "utf8", maxBuffer: 1 << 30 });
  cli("apply", "-f", join(dir, "resources.yaml"));

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
  const page = await browser.newPage({ baseURL: base, viewport: { width: 1400, height: 900 } });
  await page.goto("/login");
  await page.getByLabel("User name").fill("admin");
  await page.getByLabel("Password").fill(readFileSync(join(data, "admin-password"), "utf8").trim());
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => !url.pathname.startsWith("/login"));

  // The first view after the repository changed computes every cell; later views of
  // the same repository state reuse it.
  let at = Date.now();
  const first = await page.request.get("/products/shop", { timeout: 600_000 });
  console.log(`first view (every cell computed): ${ms(Date.now() - at)}`);
  const html = await first.text();
  console.log(`HTML of the dashboard: ${(html.length / 1024).toFixed(0)} KB (${html.length} bytes)`);

  const usable = [];
  for (let run = 0; run < RUNS; run++) {
    await page.goto("/products/shop");
    await page.locator(".table-scroll[data-live]").waitFor();
    usable.push(await page.evaluate(() => performance.now()));
  }
  console.log(`time to usable (navigation start → hydrated table): median ${ms(median(usable))} of ${RUNS}`);
  await page.getByRole("button", { name: `Promote ${name(1)} from qa to…` }).click();
  await page.getByRole("menu").waitFor();
  await page.keyboard.press("Escape");

  const filters = [];
  for (let run = 0; run < RUNS; run++) {
    const wanted = name(APPS - 1 - run);
    filters.push(
      await page.evaluate(async (wanted) => {
        const input = document.querySelector('input[type="search"]');
        const started = performance.now();
        input.value = wanted;
        input.dispatchEvent(new Event("input", { bubbles: true }));
        const shown = () => {
          const rows = [...document.querySelectorAll("tbody th.app-name")].map((th) => th.textContent);
          return rows.length === 1 && rows[0] === wanted;
        };
        while (!shown()) await new Promise((resolve) => requestAnimationFrame(resolve));
        return performance.now() - started;
      }, wanted),
    );
  }
  console.log(`filter by name (keystroke → the matching row shown): median ${ms(median(filters))} of ${RUNS}`);

  // A live update: one application promoted from dev to qa by someone else; the open
  // dashboard shows it without a reload.
  const app = name(3);
  await page.goto(`/products/shop`);
  await page.locator(".table-scroll[data-live]").waitFor();
  const cell = page.locator(`td.cell[data-application="${app}"][data-environment="qa"] .version strong`);
  const shownAt = page.evaluate(async (app) => {
    const strong = () =>
      document.querySelector(`td.cell[data-application="${app}"][data-environment="qa"] .version strong`);
    while (strong()?.textContent !== "2.0.0") await new Promise((resolve) => requestAnimationFrame(resolve));
    return Date.now();
  }, app);
  at = Date.now();
  const release = JSON.parse(cli("-o", "json", "promote", "shop", "--from", "dev", "--to", "qa", "--app", app));
  const shown = await shownAt;
  await cell.waitFor();
  let record;
  await until(() => (record = JSON.parse(cli("-o", "json", "releases", release.id))).finishedAt, "the release");
  const took = Date.parse(record.finishedAt) - Date.parse(record.createdAt);
  console.log(
    `live update (promote ${app} → its qa cell shows 2.0.0): ${ms(shown - at)}, ` +
      `of which the release itself ${ms(took)}`,
  );

  // The page of a release of every application: usable when its applications table is
  // hydrated, and one application's change read from git and shown.
  at = Date.now();
  const everything = JSON.parse(cli("-o", "json", "promote", "shop", "--from", "dev", "--to", "qa"));
  await until(
    () => (record = JSON.parse(cli("-o", "json", "releases", everything.id))).finishedAt,
    "the release of every application",
    300_000,
  );
  console.log(`release of ${APPS} applications to qa: ${ms(Date.parse(record.finishedAt) - Date.parse(record.createdAt))}`);
  const releaseHtml = await (await page.request.get(`/releases/${everything.id}`)).text();
  console.log(`HTML of the release page: ${(releaseHtml.length / 1024).toFixed(0)} KB`);
  const releaseUsable = [];
  const changeShown = [];
  for (let run = 0; run < RUNS; run++) {
    // Not app-0003: the live update above already took it to qa, so this release left it unchanged.
    const shownApp = name(10 + run);
    await page.goto(`/releases/${everything.id}`);
    const commit = page.getByRole("button", { name: `the change to ${shownApp} in qa`, exact: false });
    // Hydrated when a click opens the change: retried until the click is handled.
    await until(async () => {
      await commit.click({ timeout: 1_000 });
      return (await page.getByRole("region", { name: `Change to ${shownApp} in qa` }).count()) > 0;
    }, "the release page to hydrate");
    releaseUsable.push(await page.evaluate(() => performance.now()));
    const opened = Date.now();
    await page.getByRole("region", { name: `Change to ${shownApp} in qa` }).locator("pre.diff").waitFor();
    changeShown.push(Date.now() - opened);
  }
  console.log(`release page, time to usable (navigation start → a commit opens its change): median ${ms(median(releaseUsable))} of ${RUNS}`);
  console.log(`one application's change read from git and shown: median ${ms(median(changeShown))} of ${RUNS}`);
} finally {
  await browser?.close();
  // The server writes to the folder until it has exited: removing it earlier fails
  // and hides what went wrong.
  const exited = new Promise((resolve) => (server.exitCode !== null ? resolve() : server.once("exit", resolve)));
  server.kill();
  await exited;
  rmSync(dir, { recursive: true, force: true });
}
