// Two officers work one review queue in the console, in headless Chromium
// at 1366x768, as tests/console.rs set it up (four flagged documents):
//
//   officer 1 (r1), in Russian, with the shortcuts a Russian layout sends:
//     ivanov-1   zoom and pan the scan, the account panel, then a correction
//                (a form field and a re-upload by reason code)
//     petrova-2  reject with a reason and a confirmation, undo it; reject
//                again and open another item inside the undo window
//     sidorov-3  take it, release it
//     the long account: take it and hold it
//   officer 2 (r2): sees the long account held by r1, takes sidorov-3 and
//     accepts it; switches to English.
//   officer 1 releases the long account at the end.
//
//   node console.mjs BASE_URL REVIEWER_TOKEN REVIEWER_2_TOKEN OUT_DIR
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import assert from "node:assert/strict";

const [base, token1, token2, out] = process.argv.slice(2);
if (!base || !token1 || !token2 || !out) {
  console.error("usage: node console.mjs BASE_URL REVIEWER_TOKEN REVIEWER_2_TOKEN OUT_DIR");
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const WIDTH = 1366, HEIGHT = 768;

/** The review queue as the service sees it. */
async function queue() {
  const reply = await fetch(base + "/v1/review", { headers: { Authorization: "Bearer " + token1 } });
  assert.equal(reply.status, 200);
  return (await reply.json()).items;
}
const itemOf = async (account) => (await queue()).find((i) => i.account === account);

/** A key as a Russian layout sends it: the position's code, the Cyrillic key. */
async function pressRussian(page, code, key) {
  const cdp = await page.context().newCDPSession(page);
  const vk = code.startsWith("Key") ? code.charCodeAt(3) : 0;
  await cdp.send("Input.dispatchKeyEvent", { type: "keyDown", code, key, text: key, unmodifiedText: key, windowsVirtualKeyCode: vk });
  await cdp.send("Input.dispatchKeyEvent", { type: "keyUp", code, key, windowsVirtualKeyCode: vk });
  await cdp.detach();
  const seen = await page.evaluate(() => window.lastKey);
  assert.deepEqual(seen, { key, code }, "the page saw the Russian layout's key");
}

const shot = (page, name) => page.screenshot({ path: join(out, name) });
const li = (page, account) => page.locator("#queue li", { has: page.locator(".account", { hasText: account }) });

async function openItem(page, account) {
  await li(page, account).click();
  await page.waitForFunction((a) => document.getElementById("case-title").textContent.startsWith(a), account);
  // The scan shown is this item's (an earlier item's may still be loading).
  await page.waitForFunction(() => {
    const open = document.querySelector("#queue li.open");
    const img = document.getElementById("scan");
    return open && !img.hidden && img.complete && img.dataset.job === open.dataset.job;
  });
}

/** Nothing is cut off at 1366x768: no page scroll either way, the decision
 *  buttons and the case column inside the window. */
async function checkLayout(page) {
  const box = await page.evaluate(() => {
    const rect = (id) => document.getElementById(id).getBoundingClientRect().toJSON();
    return {
      scrollWidth: document.documentElement.scrollWidth,
      scrollHeight: document.documentElement.scrollHeight,
      buttons: ["decision-accept", "decision-correct", "decision-reject", "take", "release", "next"].map(rect),
      casePane: rect("case-pane"),
      queuePane: rect("queue-pane"),
    };
  });
  assert.ok(box.scrollWidth <= WIDTH && box.scrollHeight <= HEIGHT, JSON.stringify(box));
  for (const b of box.buttons) assert.ok(b.bottom <= HEIGHT && b.right <= WIDTH && b.height > 0, JSON.stringify(b));
  assert.ok(box.casePane.right <= WIDTH, JSON.stringify(box.casePane));
}

async function signIn(browser, token) {
  const context = await browser.newContext({ viewport: { width: WIDTH, height: HEIGHT }, locale: "ru-RU" });
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  page.on("pageerror", (e) => { throw e; });
  await page.addInitScript(() => {
    document.addEventListener("keydown", (e) => { window.lastKey = { key: e.key, code: e.code }; }, true);
  });
  await page.goto(base + "/review");
  await page.waitForSelector("#login:not([hidden])");
  assert.equal(await page.locator("#console").isVisible(), false, "the console is hidden behind the login box");
  await page.fill("#token", token);
  await page.click("#sign-in");
  await page.waitForSelector("#queue li");
  return page;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
try {
  // ---- the login box alone
  {
    const context = await browser.newContext({ viewport: { width: WIDTH, height: HEIGHT } });
    const page = await context.newPage();
    await page.goto(base + "/review");
    await page.waitForSelector("#login:not([hidden])");
    assert.equal(await page.getAttribute("html", "lang"), "ru");
    assert.equal(await page.locator("#console").isVisible(), false);
    await shot(page, "01-login.png");
    await context.close();
  }

  // ---- officer 1
  const one = await signIn(browser, token1);
  assert.equal(await one.getAttribute("html", "lang"), "ru");
  assert.match(await one.textContent("#who"), /Вы вошли как r1/);
  assert.equal(await one.locator("#queue li").count(), 4);
  assert.match(await one.textContent("#queue"), /Заграничный паспорт/);
  await checkLayout(one);

  // ivanov-1: opening an item does not claim it.
  await openItem(one, "ivanov-1");
  assert.equal((await itemOf("ivanov-1")).claimed_by, null, "opening does not claim");
  assert.match(await one.textContent("#decide-state"), /свободен/);
  await one.waitForSelector('#fields tr.diff[data-field="surname"]');
  assert.match(await one.textContent("#fields"), /Фамилия/);
  assert.match(await one.textContent("#case-meta"), /\d\d\.\d\d\.\d{4} \d\d:\d\d МСК/);
  assert.match(await one.textContent("#findings"), /[А-Яа-я]{4,}/, "findings in Russian");
  await one.waitForFunction(() => { const m = document.getElementById("mrz"); return m && m.complete && m.naturalWidth > 0; });

  // Zoom: keyboard "+" (as the code Equal), the button, the wheel; drag to pan.
  const zoom = async () => parseInt(await one.textContent("#zoom-level"), 10);
  const fitted = await zoom();
  await one.keyboard.press("Equal");
  assert.ok((await zoom()) > fitted, "+ zooms in");
  await one.click("#zoom-in");
  const viewport = await one.locator("#viewport").boundingBox();
  await one.mouse.move(viewport.x + viewport.width / 2, viewport.y + viewport.height * 0.8);
  await one.mouse.wheel(0, -300);
  await one.waitForFunction((before) => parseInt(document.getElementById("zoom-level").textContent, 10) > before, fitted * 1.5);
  const before = await one.$eval("#scan", (img) => img.style.transform);
  await one.mouse.down();
  await one.mouse.move(viewport.x + viewport.width / 2 - 120, viewport.y + viewport.height * 0.8 - 200, { steps: 5 });
  await one.mouse.up();
  assert.notEqual(await one.$eval("#scan", (img) => img.style.transform), before, "dragging pans");
  assert.equal((await itemOf("ivanov-1")).claimed_by, null, "looking does not claim");
  await shot(one, "02-item-zoomed.png");
  await one.keyboard.press("Digit0");

  // The account panel: the status, both documents, the case history.
  await one.click("#tab-account");
  await one.waitForSelector('#documents tr[data-kind="visa"]');
  await one.waitForSelector('#documents tr[data-kind="passport"]');
  await one.waitForSelector("#history li");
  assert.match(await one.textContent("#history"), /Формат не поддерживается/, "the log's codes in words");
  assert.match(await one.textContent("#history"), /Документ загружен/);
  await shot(one, "03-account-panel.png");
  await one.click("#tab-document");

  // The correction, from the Russian layout's С (KeyC): the first action claims.
  await one.fill("#comment", "Фамилия в анкете не совпадает с паспортом; скан нечёткий.");
  await one.locator("#case-title").click();
  await pressRussian(one, "KeyC", "с");
  await one.waitForSelector("#correct-dialog[open]");
  assert.equal((await itemOf("ivanov-1")).claimed_by, "r1", "the first action claims");
  assert.ok(await one.isChecked('#correct-fields input[value="surname"]'), "the mismatched field is ticked");
  await one.check('#correct-reasons input[value="resolution_too_low"]');
  await shot(one, "04-correction.png");
  await one.click("#correct-send");
  await one.waitForSelector(".notice.pending");
  await one.waitForFunction(() => /Отправлено: Запрос исправления — ivanov-1/.test(document.getElementById("notices").textContent), null, { timeout: 15000 });
  assert.equal(await itemOf("ivanov-1"), undefined, "decided");

  // petrova-2: a stray К opens the reasons, it does not reject.
  await openItem(one, "petrova-2");
  await pressRussian(one, "KeyR", "к");
  await one.waitForSelector("#reject-dialog[open]");
  assert.ok(await one.isDisabled("#reject-send"), "no reason, no refusal");
  await one.keyboard.press("Escape");
  assert.equal(await one.locator(".notice.pending").count(), 0);
  // With a reason and the confirmation; then undone inside the window.
  await pressRussian(one, "KeyR", "к");
  await one.waitForSelector("#reject-dialog[open]");
  await one.check('#reject-reasons input[value="document_refused"]');
  assert.ok(await one.isDisabled("#reject-send"), "a reason without the confirmation");
  await one.check("#reject-confirm");
  assert.ok(await one.isEnabled("#reject-send"));
  await shot(one, "05-reject-confirm.png");
  await one.click("#reject-send");
  await one.waitForSelector(".notice.pending .countdown");
  assert.match(await one.textContent(".notice.pending"), /Отказ: petrova-2/);
  await shot(one, "06-undo-window.png");
  await one.click(".notice.pending button.undo");
  await one.waitForFunction(() => /Отменено: Отказ — petrova-2/.test(document.getElementById("notices").textContent));
  await one.waitForTimeout(6000);
  assert.equal((await itemOf("petrova-2")).claimed_by, "r1", "undone: still in the queue, still ours");
  // Again, and the officer opens the next item inside the window: the
  // refusal stays petrova-2's and is sent when the window ends.
  await pressRussian(one, "KeyR", "к");
  await one.check('#reject-reasons input[value="document_refused"]');
  await one.check("#reject-confirm");
  await one.click("#reject-send");
  await one.waitForSelector(".notice.pending");
  await openItem(one, "sidorov-3");
  assert.match(await one.textContent(".notice.pending"), /petrova-2/);
  await one.waitForFunction(() => /Отправлено: Отказ — petrova-2/.test(document.getElementById("notices").textContent), null, { timeout: 15000 });
  assert.match(await one.textContent("#case-title"), /^sidorov-3/, "still on the item opened");
  assert.equal((await itemOf("sidorov-3")).claimed_by, null, "the other item untouched");

  // sidorov-3: take (Е = KeyT), release (Д = KeyL).
  await pressRussian(one, "KeyT", "е");
  await one.waitForFunction(() => /у вас/.test(document.querySelector("#queue li.open .lease").textContent));
  assert.equal((await itemOf("sidorov-3")).claimed_by, "r1");
  await pressRussian(one, "KeyL", "д");
  await one.waitForFunction(() => /свободен/.test(document.querySelector("#queue li.open .lease").textContent));
  assert.equal((await itemOf("sidorov-3")).claimed_by, null, "released");

  // The long account: taken and held.
  const long = (await queue()).find((i) => i.account.length > 60).account;
  await openItem(one, long);
  await one.click("#take");
  await one.waitForFunction(() => /закреплён за вами/.test(document.getElementById("decide-state").textContent));
  await checkLayout(one);
  await shot(one, "07-held-long-name.png");

  // ---- officer 2, on the same queue
  const two = await signIn(browser, token2);
  assert.match(await two.textContent("#who"), /r2/);
  assert.equal(await two.locator("#queue li").count(), 2);
  const held = li(two, long);
  assert.match(await held.locator(".lease").textContent(), /у r1/);
  await openItem(two, long);
  assert.ok(await two.isDisabled("#decision-accept"), "an item held by another is read-only");
  assert.match(await two.textContent("#decide-state"), /в работе у r1/);
  await pressRussian(two, "KeyA", "ф");
  await two.waitForTimeout(300);
  assert.equal(await two.locator(".notice.pending").count(), 0, "no decision on another's item");
  assert.equal(await two.textContent("#message"), "", "no claim tried on another's item");
  assert.equal((await itemOf(long)).claimed_by, "r1");
  await checkLayout(two);
  await shot(two, "08-second-officer-sees-held.png");
  // Next (Т = KeyN) goes past the held item to the free one; Ф accepts it.
  await pressRussian(two, "KeyN", "т");
  await two.waitForFunction(() => document.getElementById("case-title").textContent.startsWith("sidorov-3"));
  await pressRussian(two, "KeyA", "ф");
  await two.waitForSelector(".notice.pending");
  assert.equal((await itemOf("sidorov-3")).claimed_by, "r2");
  await two.waitForFunction(() => /Отправлено: Приём — sidorov-3/.test(document.getElementById("notices").textContent), null, { timeout: 15000 });
  // The English switch.
  await two.click("#lang");
  assert.equal(await two.getAttribute("html", "lang"), "en");
  await openItem(two, long);
  assert.match(await two.textContent("#decide-state"), /Held by r1/);
  assert.match(await two.textContent("#case-meta"), /\d\d\.\d\d\.\d{4} \d\d:\d\d MSK/);
  assert.match(await two.textContent("#notices"), /Sent: Acceptance — sidorov-3/, "the notices follow the language");
  await shot(two, "09-second-officer-english.png");
  await two.click("#sign-out");
  await two.waitForSelector("#login:not([hidden])");

  // Officer 1 gives the long account back.
  await one.click("#release");
  await one.waitForFunction(() => /свободен/.test(document.querySelector("#queue li.open .lease").textContent));
  console.log(JSON.stringify({ screenshots: out, queue: await queue() }));
} finally {
  await browser.close();
}
