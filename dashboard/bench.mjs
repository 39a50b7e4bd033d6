// Page load to first chain data: the dashboard's market view beside its anchor, a bare page that
// only connects with @polkadot/api and reads the same price indices (anchor.html), each loaded
// ROUNDS times in a fresh browser context (no cache), alternating, in headless chromium against
// the node at VERITY_WS. Prints the medians and their ratio. Build first (node build.mjs).
// Usage: VERITY_WS=ws://127.0.0.1:9944 node bench.mjs [ROUNDS]   (default 9)
import puppeteer from 'puppeteer-core';
import { serve } from './serve.mjs';

const ws = process.env.VERITY_WS || 'ws://127.0.0.1:9944';
const rounds = Number(process.argv[2] ?? 9);
const server = await serve(0);
const base = `http://127.0.0.1:${server.address().port}`;
const browser = await puppeteer.launch({
  executablePath: process.env.VERITY_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const rpc = encodeURIComponent(ws);
const pages = { dashboard: `${base}/?rpc=${rpc}#/market`, anchor: `${base}/anchor.html?rpc=${rpc}` };
const times = { dashboard: [], anchor: [] };
for (let i = 0; i < rounds; i++) {
  for (const name of i % 2 ? ['anchor', 'dashboard'] : ['dashboard', 'anchor']) {
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    await page.goto(pages[name]);
    await page.waitForSelector('#page[data-loaded="1"]', { timeout: 30_000 });
    times[name].push(await page.evaluate(() => window.verityFirstData));
    await context.close();
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const d = median(times.dashboard);
const a = median(times.anchor);
console.log(`page load to first chain data, median of ${rounds} (ms): dashboard market ${d.toFixed(0)}, anchor (bare @polkadot/api read) ${a.toFixed(0)}, ratio ${(d / a).toFixed(2)}`);
console.log(`  dashboard: ${times.dashboard.map((t) => t.toFixed(0)).join(' ')}`);
console.log(`  anchor:    ${times.anchor.map((t) => t.toFixed(0)).join(' ')}`);
await browser.close();
server.close();
