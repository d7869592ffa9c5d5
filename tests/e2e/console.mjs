// Drives the reviewer console in headless Chromium: sign in with a reviewer
// token, open the first flagged document, request a correction of the
// surname, and wait for the console to confirm. Screenshots go to OUT_DIR.
//
//   node console.mjs BASE_URL REVIEWER_TOKEN OUT_DIR
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const [base, token, out] = process.argv.slice(2);
if (!base || !token || !out) {
  console.error("usage: node console.mjs BASE_URL REVIEWER_TOKEN OUT_DIR");
  process.exit(2);
}
mkdirSync(out, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.setDefaultTimeout(20000);
  await page.goto(base + "/review");
  await page.fill("#token", token);
  await page.click("#sign-in");
  await page.waitForSelector("#queue li");
  await page.click("#queue li");
  await page.waitForSelector("#detail:not([hidden])");
  // The scan has loaded and the mismatched surname is highlighted.
  await page.waitForFunction(() => {
    const img = document.getElementById("scan");
    return img.complete && img.naturalWidth > 0;
  });
  await page.waitForSelector('#fields tr.diff[data-field="surname"]');
  await page.screenshot({ path: join(out, "console-item.png"), fullPage: true });
  const surname = page.locator('input[name=item][value="surname"]');
  if (!(await surname.isChecked())) await surname.check();
  await page.fill("#comment", "The surname in the form does not match the passport.");
  // The keyboard shortcut, from outside the comment box.
  await page.locator("#detail-title").click();
  await page.keyboard.press("c");
  await page.waitForFunction(() => document.getElementById("message").textContent.startsWith("Decided"));
  const message = await page.textContent("#message");
  await page.screenshot({ path: join(out, "console-decided.png"), fullPage: true });
  console.log(message);
} finally {
  await browser.close();
}
