// Shared steps of the browser tests.
import { expect } from "@playwright/test";
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The administrator password the server wrote on its first start. */
export function adminPassword() {
  return readFileSync(join(process.env.PROMENADE_E2E_DATA, "admin-password"), "utf8").trim();
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
