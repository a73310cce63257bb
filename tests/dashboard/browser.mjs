// Drives Debian's Chromium (through playwright-core) against a live
// `weir serve` that tests/e2e/dashboard.rs started with real jobs, as a
// user would: sign in, read the jobs, open one, watch its graph and
// checkpoints, swap an operator from the page, watch a canary roll back,
// read a failed job's reason, and check that another tenant sees none of
// it. Exits non-zero at the first step that does not hold, saying which.
//
// Environment: WEIR_URL, TOKEN (tenant with the jobs), OTHER_TOKEN (a
// second tenant), JOB (a running job whose operator `tag` can be
// swapped), HOSTILE (a job that failed), CHECKPOINT_FAILED (a job that
// failed because a checkpoint went over its disk budget), SWAP_WASM (a new version of
// `tag`), CANARY_WASM (a version that traps), FIRST_WASM (the version it
// started with), ADMIN_TOKEN (the host
// admin's), SCREENSHOTS (a folder), CHROMIUM (default /usr/bin/chromium).

import { createHash } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const env = (k, d) => {
  const v = process.env[k] ?? d;
  if (v === undefined) throw new Error(`set ${k}`);
  return v;
};
const url = env("WEIR_URL");
const token = env("TOKEN");
const otherToken = env("OTHER_TOKEN");
const adminToken = env("ADMIN_TOKEN");
const job = env("JOB");
const hostile = env("HOSTILE");
const checkpointFailed = env("CHECKPOINT_FAILED");
const swapWasm = env("SWAP_WASM");
const canaryWasm = env("CANARY_WASM");
env("FIRST_WASM");
const shots = env("SCREENSHOTS");
mkdirSync(shots, { recursive: true });

const WAIT = 60_000;
let step = "start";
const log = (s) => {
  step = s;
  console.log(`step: ${s}`);
};

const browser = await chromium.launch({
  executablePath: env("CHROMIUM", "/usr/bin/chromium"),
  headless: true,
  // This machine has no internet: keep Chromium from calling home.
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
const problems = [];
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
page.on("console", (m) => {
  if (m.type() === "error") problems.push(`console error: ${m.text()}`);
});

async function signIn(t) {
  await page.goto(url);
  await page.locator('input[name="token"]').fill(t);
  await page.getByRole("button", { name: "sign in" }).click();
}

/** Wait until `fn(text of selector)` holds; fail with what was there. */
async function waitText(selector, what, fn) {
  const deadline = Date.now() + WAIT;
  let last = "";
  while (Date.now() < deadline) {
    const l = page.locator(selector).first();
    // innerText for HTML, textContent for SVG (the graph).
    last = (await l.count()) > 0 ? await l.evaluate((e) => e.innerText ?? e.textContent) : "(not on the page)";
    if (fn(last)) return last;
    await page.waitForTimeout(250);
  }
  throw new Error(`${what}: never held within ${WAIT} ms; ${selector} shows:\n${last}`);
}

try {
  log("a wrong token is refused");
  await signIn("not-a-token");
  await waitText('[data-testid="signin-error"]', "the sign-in error", (t) => /not valid/.test(t));
  problems.length = 0; // the browser logs the 401 it was meant to get

  log("sign in; the jobs list shows both jobs");
  await signIn(token);
  await waitText('[data-testid="jobs"]', "the running job in the list", (t) =>
    t.includes(job) && /running/.test(t),
  );
  log("the failed job's reason is in the list");
  const reason = await waitText(`[data-testid="jobs"]`, "the hostile job failed with its reason", (t) =>
    t.includes(hostile) && /failed/.test(t),
  );
  const reasons = await page.locator('[data-testid="reason"]').allInnerTexts();
  if (!reasons.some((r) => /trap|operator bug|wasm/i.test(r))) throw new Error(`no failure reason says anything of the trap: ${reasons.join("\n")}\n${reason}`);
  if (!reasons.some((r) => /checkpoints and savepoints .* over its budget/.test(r))) throw new Error(`no failure reason says the checkpoint went over the disk budget: ${reasons.join("\n")}`);
  await page.screenshot({ path: join(shots, "jobs.png"), fullPage: true });

  await waitText('[data-testid="who"]', "the tenant's name in the header", (t) => t === "tenant acme");

  log("a job whose checkpoint failed shows the failed checkpoint and why");
  await page.getByRole("link", { name: checkpointFailed, exact: true }).click();
  await waitText('[data-testid="checkpoint-failed"]', "the failed checkpoint with its reason", (t) =>
    /failed/.test(t) && /over its budget/.test(t) && /limits\.disk/.test(t),
  );
  await waitText('[data-testid="checkpoints"]', "the failed count", (t) => /[1-9]\d* failed/.test(t));
  await page.screenshot({ path: join(shots, "checkpoint-failed.png"), fullPage: true });
  await page.locator("a.brand").click();

  log("open the job: its graph with non-zero rates");
  await page.getByRole("link", { name: job, exact: true }).click();
  await page.locator('[data-testid="job-graph"]').waitFor({ timeout: WAIT });
  await waitText('[data-testid="job-graph"]', "a stage with a non-zero input rate", (t) =>
    /in [0-9.]*[1-9][0-9.]*( k| M)?\/s/.test(t),
  );
  log("its end-to-end latency is charted");
  await page.locator('[data-testid="latency-chart"] canvas').waitFor({ timeout: WAIT });

  log("a checkpoint appears");
  await waitText('[data-testid="checkpoints"]', "a completed checkpoint", (t) => /\n\s*\d+\s/.test(t));
  await waitText('[data-testid="state"]', "the window stage's state in RocksDB", (t) =>
    /RocksDB/.test(t) && /keyed\s+\d/.test(t),
  );

  log("the job's file output");
  await page.locator('[data-testid="output-sink"]').click();
  await waitText('[data-testid="output"]', "the sink's committed rows", (t) => t.trim().startsWith("{"));

  log("swap `tag` from the page: the new version goes live");
  const op = page.locator('[data-operator="tag"]');
  const before = await op.locator('[data-testid="live-digest"]').innerText();
  const want = createHash("sha256").update(readFileSync(swapWasm)).digest("hex").slice(0, 12);
  if (before === want) throw new Error(`the new version ${want} is live already`);
  await op.locator('[data-testid="swap-file"]').setInputFiles(swapWasm);
  await op.locator('[data-testid="swap"]').click();
  await waitText('[data-operator="tag"] [data-testid="swap-result"]', "the swap's answer", (t) =>
    t.includes(`${want} is live`),
  );
  await waitText('[data-operator="tag"] [data-testid="live-digest"]', "the new version as live", (t) => t === want);
  await waitText('[data-operator="tag"] .timeline', "the swap in the timeline", (t) => /swap after checkpoint \d+/.test(t));
  await page.screenshot({ path: join(shots, "job.png"), fullPage: true });

  log("a canary that traps is rolled back; the version before stays live");
  await op.locator('[data-testid="swap-file"]').setInputFiles(canaryWasm);
  await op.locator('[data-testid="swap-canary"]').check();
  await op.locator('[data-testid="swap"]').click();
  await waitText('[data-operator="tag"] [data-testid="swap-result"]', "the canary's verdict", (t) =>
    /canary rolled back/.test(t),
  );
  // The browser logs the refusal (422) the page was meant to get.
  const others = problems.filter((p) => !/status of 422/.test(p));
  problems.length = 0;
  problems.push(...others);
  await waitText('[data-operator="tag"] [data-testid="live-digest"]', "the version before still live", (t) => t === want);
  await waitText('[data-testid="job-state"]', "the job still running", (t) => t === "running");
  await page.screenshot({ path: join(shots, "canary.png"), fullPage: true });

  log("a canary over 9,000 records shows its progress live, then is promoted");
  const v1 = before;
  await op.locator('[data-testid="swap-file"]').setInputFiles(process.env.FIRST_WASM);
  await op.locator('input[type="number"]').fill("9000");
  await op.locator('[data-testid="swap"]').click();
  const progress = await waitText('[data-operator="tag"] [data-testid="canary-progress"]', "the canary's progress", (t) =>
    /canary \w+: [1-9]\d* of 9000 records, 0 rejected/.test(t),
  );
  console.log(`  seen: ${progress.split("\n")[0]}`);
  await waitText('[data-operator="tag"] [data-testid="swap-result"]', "the canary's promotion", (t) =>
    t.includes(`${v1} is live`) && /promoted after/.test(t),
  );
  await waitText('[data-operator="tag"] [data-testid="live-digest"]', "the promoted version live", (t) => t === v1);

  log("another tenant sees none of these jobs");
  await page.getByRole("button", { name: "sign out" }).click();
  await signIn(otherToken);
  await waitText("main", "the other tenant's empty list", (t) => /No jobs yet/.test(t));
  const main = await page.locator("main").innerText();
  if (main.includes(job) || main.includes(hostile) || main.includes(checkpointFailed)) throw new Error(`the other tenant sees a job of the first: ${main}`);
  await page.goto(`${url}/#/job/${encodeURIComponent(job)}`);
  await page.reload();
  await waitText("main", "the first tenant's job hidden from the other", (t) => /No job/.test(t));
  if ((await page.locator('[data-testid="job-graph"]').count()) > 0) throw new Error("the other tenant sees the job's graph");
  // The browser logs the 404s (the job's history) it was meant to get.
  const rest = problems.filter((p) => !/status of 404/.test(p));
  problems.length = 0;
  problems.push(...rest);

  log("the host admin sees every tenant's usage and the host's, and no job");
  await page.getByRole("button", { name: "sign out" }).click();
  await signIn(adminToken);
  await waitText('[data-testid="who"]', "the admin in the header", (t) => t === "host admin");
  const tenants = await waitText('[data-testid="tenants"]', "both tenants' usage", (t) =>
    t.includes("acme") && t.includes("globex"),
  );
  if (!/1 \/ \d+ \(3 in all\)/.test(tenants)) throw new Error(`acme's jobs (1 running of 3) are not in its row:\n${tenants}`);
  await waitText('[data-testid="threads"]', "the host's threads", (t) => Number(t) > 0);
  await page.locator('[data-testid="usage-chart"] canvas').waitFor({ timeout: WAIT });
  // CPU shares are differences of two samples (every 2 s): the chart draws
  // a line from the third.
  await waitText('[data-testid="host"]', "the host's CPU share", (t) => /\d% of \d+ cores/.test(t));
  await page.waitForTimeout(2500);
  const adminMain = await page.locator("main").innerText();
  if (adminMain.includes("orders") || adminMain.includes(hostile) || adminMain.includes(checkpointFailed)) throw new Error(`the admin sees a tenant's job: ${adminMain}`);
  await page.screenshot({ path: join(shots, "admin.png"), fullPage: true });

  if (problems.length > 0) throw new Error(`the page reported errors:\n${problems.join("\n")}`);
  console.log("dashboard: every step held");
  await browser.close();
} catch (e) {
  console.error(`FAILED at step "${step}": ${e.message}`);
  if (problems.length > 0) console.error(problems.join("\n"));
  try {
    await page.screenshot({ path: join(shots, "failure.png"), fullPage: true });
    console.error(`screenshot: ${join(shots, "failure.png")}`);
  } catch {}
  await browser.close();
  process.exit(1);
}
