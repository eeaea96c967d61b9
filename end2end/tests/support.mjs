// Shared steps of the browser tests.
import { test as base, expect } from "@playwright/test";
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** What a broken bundle leaves in the console: a Rust panic's message (logged before the
 * wasm trap), a hydration mismatch, a module that failed to instantiate, or anything the
 * page's Content-Security-Policy refused. */
const BUNDLE_ERROR = /panicked|hydrat|WebAssembly|RuntimeError|unreachable|Content Security Policy/i;

/**
 * Playwright's `test`, failing any test in which a page of its browser context threw an
 * uncaught error or logged a bundle error to the console — wherever it happened. A
 * bundle that does not start (a broken optimiser, a failed instantiation) fails every
 * test, whichever page it opens.
 */
export const test = base.extend({
  context: async ({ context }, use) => {
    const errors = [];
    context.on("weberror", (error) => errors.push(String(error.error()?.message ?? error.error())));
    context.on("console", (message) => {
      if (message.type() === "error" && BUNDLE_ERROR.test(message.text())) errors.push(message.text());
    });
    await use(context);
    expect(errors, "errors in the pages of this test").toEqual([]);
  },
});
export { expect };

/** Tag of the tests that also run against the release bundles (`cargo xtask bundle-size`):
 * together they open every page and use both bundles. */
export const RELEASE = { tag: "@release" };

/** The administrator password the server wrote on its first start. */
export function adminPassword() {
  return readFileSync(join(process.env.PROMENADE_E2E_DATA, "admin-password"), "utf8").trim();
}

/** Headers that authenticate an API request as the administrator, with the API token
 * the server wrote on its first start. */
export function authorization() {
  const token = readFileSync(join(process.env.PROMENADE_E2E_DATA, "admin-token"), "utf8").trim();
  return { Authorization: `Bearer ${token}` };
}

/** Waits until the wasm bundle has taken over the server-rendered page. */
export async function hydrated(page) {
  await expect(page.locator("body[data-hydrated]")).toHaveCount(1);
}

/** Signs in as the administrator through the sign-in page and lands on `path`. */
export async function signIn(page, path = "/") {
  await page.goto(`/login?next=${encodeURIComponent(path)}`);
  await page.getByLabel("User name").fill("admin");
  await page.getByLabel("Password").fill(adminPassword());
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(new RegExp(`${path.replace(/[?]/g, "\\\\?")}$`));
  await expect(page.getByTestId("signed-in-user")).toContainText("admin");
  await hydrated(page);
}
