// Runs the real `promenade` binary on a private port with a throw-away data folder and
// drives the system's Chromium against it. `cargo xtask test` (or `cargo xtask e2e`)
// builds everything and sets the variables below; they can also be set by hand.
import { defineConfig } from "@playwright/test";

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run the browser tests through \`cargo xtask e2e\``);
  }
  return value;
}

const port = process.env.PROMENADE_E2E_PORT ?? "3100";
const baseURL = `http://127.0.0.1:${port}`;
// The xtask prepares this folder (with the demo in it) and removes it afterwards.
const dataDir = required("PROMENADE_E2E_DATA");
const chromium = process.env.CHROMIUM ?? "/usr/bin/chromium";
const fakeHostPort = required("PROMENADE_FAKE_HOST_PORT");
const fakeHostURL = `http://127.0.0.1:${fakeHostPort}`;
const argocdPort = required("PROMENADE_FAKE_ARGOCD_PORT");
const workflowsPort = required("PROMENADE_FAKE_WORKFLOWS_PORT");

export default defineConfig({
  testDir: "./tests",
  outputDir: "./test-results",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL,
    browserName: "chromium",
    headless: true,
    screenshot: "only-on-failure",
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: chromium,
      // Without the networking flags Chromium keeps trying to reach Google's services,
      // which a closed network refuses many times a second.
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  webServer: [
    {
      command: `"${required("PROMENADE_BIN")}" serve --addr 127.0.0.1:${port} --data-dir "${dataDir}" --poll-interval 0s --merge-poll-interval 1s --allow-local-repositories --allow-outbound 127.0.0.0/8 --public-url ${baseURL}`,
      env: { LEPTOS_SITE_ROOT: required("PROMENADE_SITE_ROOT"), RUST_LOG: "warn" },
      url: `${baseURL}/readyz`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: "pipe",
      stderr: "pipe",
    },
    {
      // GitHub's API, over the demo's repository (`demo/gitops` from its path).
      command: `"${required("PROMENADE_FAKE_HOST_BIN")}" github --addr 127.0.0.1:${fakeHostPort} --serve demo/gitops="${dataDir}/demo/gitops.git"`,
      url: `${fakeHostURL}/_fake/pulls`,
      reuseExistingServer: false,
      timeout: 30_000,
      stdout: "pipe",
      stderr: "pipe",
    },
    {
      // Argo CD and the Argo Server; their token is the one the Argo tests store.
      command: `"${required("PROMENADE_FAKE_ARGO_BIN")}" --argocd-addr 127.0.0.1:${argocdPort} --workflows-addr 127.0.0.1:${workflowsPort} --token argo-browser-test-token --repository "${dataDir}/demo/gitops.git"`,
      url: `http://127.0.0.1:${argocdPort}/api/v1/applications`,
      reuseExistingServer: false,
      timeout: 30_000,
      stdout: "pipe",
      stderr: "pipe",
    },
  ],
  // The accessibility check runs last, so the pages it opens show what the other tests
  // left (releases, approvals, pull requests) rather than an empty demo.
  projects: [
    { name: "app", testIgnore: /accessibility\.spec\.mjs$/ },
    { name: "accessibility", testMatch: /accessibility\.spec\.mjs$/, dependencies: ["app"] },
  ],
});
