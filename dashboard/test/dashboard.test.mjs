// Browser tests of the dashboard: Debian's chromium, headless, driven by puppeteer-core, against a
// dev chain that ran the main job (scripts/demo.sh runs this file before it stops when
// VERITY_DEMO_DASHBOARD_TEST=1). Every page's figures are compared with RPC reads of the block the
// page says it drew; a vote cast from the page lands on chain; a failing action shows its named
// error; a job page follows an event within one block; the market fits a phone's width.
//   VERITY_WS                 the node (required)
//   VERITY_CHROMIUM           the browser (default /usr/bin/chromium)
//   VERITY_DASHBOARD_METRICS  a provider daemon's metrics URL and its account's URI, `URL //Charlie`
//   VERITY_DASHBOARD_SHOTS    a directory for a screenshot of each page (docs/dashboard)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';
import { chainCidText, connect, errorName, rawCid, signAndInclude, WS } from '../../tests/e2e/lib.mjs';
import { serve } from '../serve.mjs';

assert.ok(process.env.VERITY_WS, 'VERITY_WS: the node with the main job\'s state');
const SHOTS = process.env.VERITY_DASHBOARD_SHOTS;
const firstData = {};
let api;
let keyring;
let server;
let browser;
let base;
/** Every event of the chain from block 1, read here (not by the page): `{ block, section, method, data }`. */
let events = [];

before(async () => {
  ({ api, keyring } = await connect());
  server = await serve(0);
  base = `http://127.0.0.1:${server.address().port}/?rpc=${encodeURIComponent(WS)}`;
  browser = await puppeteer.launch({
    executablePath: process.env.VERITY_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const best = (await api.rpc.chain.getHeader()).number.toNumber();
  for (let from = 1; from <= best; from += 50) {
    const blocks = await Promise.all(Array.from({ length: Math.min(50, best - from + 1) }, async (_, i) => {
      const hash = await api.rpc.chain.getBlockHash(from + i);
      return (await api.query.system.events.at(hash)).map(({ event }) => ({ block: from + i, section: event.section, method: event.method, data: event.data }));
    }));
    events = events.concat(blocks.flat());
  }
  if (SHOTS) mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  const times = Object.entries(firstData).map(([k, v]) => `${k} ${v} ms`).join(', ');
  if (times) console.log(`# page load to first data (navigation start to the first drawn view): ${times}`);
  await browser?.close();
  server?.close();
  await api?.disconnect();
});

const find = (section, method, pred = () => true) => events.filter((e) => e.section === section && e.method === method && pred(e.data));

/**
 * Opens `route` in a new tab (`width` wide) and waits for its first drawn view; `prepare(page)`
 * runs before the page loads.
 */
async function open(route, width = 1280, prepare = async () => {}) {
  const page = await browser.newPage();
  await prepare(page);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.errors = errors;
  await page.setViewport({ width, height: 900 });
  await page.goto(`${base}#/${route}`);
  await page.waitForSelector('#page[data-loaded="1"]', { timeout: 30_000 });
  firstData[route.split('/')[0]] ??= await page.evaluate(() => Math.round(window.verityFirstData));
  return page;
}

/** Waits until `fn(page)` is truthy (polling), or fails with `what`. */
async function until(page, fn, what, ms = 60_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn(page);
    if (v) return v;
    if (Date.now() > end) assert.fail(`${what}: not shown within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The block the page drew and the chain's state at it. */
async function drawn(page) {
  const n = Number(await page.$eval('#page', (e) => e.dataset.block));
  return { n, at: await api.at(await api.rpc.chain.getBlockHash(n)) };
}

/**
 * Clicks `sel` once it is there, inside the page in one step: the views are drawn again at every
 * block, so an element found first and clicked after may already have been replaced.
 */
async function press(page, sel) {
  await page.waitForSelector(sel);
  await page.$eval(sel, (e) => e.click());
}

const raws = (page, sel) => page.$$eval(sel, (els) => els.map((e) => e.dataset.raw));
const raw = (page, sel) => page.$eval(sel, (e) => e.dataset.raw);
const shot = async (page, name) => SHOTS && page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
/** Waits until the page is drawn from the whole history it reads back. */
const historyRead = (page) => page.waitForSelector('#page[data-history="complete"]', { timeout: 60_000 });

test('the market page shows every class\'s price index, supply, demand, load and offers as the chain has them', async () => {
  const page = await open('market');
  await historyRead(page);
  const { at } = await drawn(page);
  const ids = [...(await at.query.marketplace.classIds()).toU8a(true)];
  assert.ok(ids.length > 0);
  for (const id of ids) {
    const card = `section[data-class="${id}"]`;
    assert.equal(await raw(page, `${card} [data-field="price-index"] .bal`), (await at.query.marketplace.priceIndex(id)).toString());
    const stats = await at.query.marketplace.stats(id);
    for (const f of ['capacity', 'demand', 'load']) assert.equal(await raw(page, `${card} [data-field="${f}"] .num`), stats[f].toString(), `class ${id} ${f}`);
    const offers = (await at.query.marketplace.classOffers(id)).map(String);
    assert.deepEqual(await page.$$eval(`${card} tr[data-offer]`, (r) => r.map((x) => x.dataset.offer)), offers);
  }
  // The main job's providers published their offers in class 0, and its chart draws the index.
  assert.ok((await page.$$('section[data-class="0"] tr[data-offer]')).length >= 6);
  assert.ok(Number(await page.$eval('#chart-0', (e) => e.dataset.points)) >= 2);
  assert.ok(await page.$('#chart-0 canvas'), 'the price chart is drawn');
  assert.deepEqual(page.errors, []);
  await shot(page, 'market');
  await page.close();
});

test('the market page fits a phone\'s width', async () => {
  const page = await open('market', 390);
  await historyRead(page);
  await page.waitForSelector('#chart-0 canvas');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
  await shot(page, 'market-narrow');
  await page.close();
});

test('the jobs page lists every job the main job posted, in the state the chain\'s events give', async () => {
  const page = await open('jobs');
  await historyRead(page);
  const posted = find('marketplace', 'JobPosted').map((e) => e.data.job.toString());
  assert.ok(posted.length >= 3, `the main job posts an inference, a training and a second inference job: ${posted}`);
  const { at } = await drawn(page);
  for (const id of posted) {
    const state = await page.$eval(`tr[data-job="${id}"] [data-field="state"]`, (e) => e.textContent);
    const live = (await at.query.marketplace.jobs(id)).unwrapOr(null);
    const expected = live ? (live.status.isQueued ? 'queued' : 'running')
      : find('marketplace', 'JobCompleted', (d) => d.job.toString() === id).length ? 'completed'
        : find('marketplace', 'JobCancelled', (d) => d.job.toString() === id).length ? 'cancelled' : 'failed';
    assert.ok(state.startsWith(expected), `job ${id}: page ${state}, chain ${expected}`);
  }
  await shot(page, 'jobs');
  await page.close();
});

test('an inference job\'s page shows each task through committee and verdict, its output CIDs and its payments', async () => {
  const trained = new Set(find('marketplace', 'ModelTrained').map((e) => e.data.job.toString()));
  const done = find('marketplace', 'JobCompleted', (d) => !trained.has(d.job.toString()));
  assert.ok(done.length > 0, 'the main job completed an inference job');
  const job = done[0].data.job.toString();
  const page = await open(`job/${job}`);
  await historyRead(page);
  const tasks = find('marketplace', 'TaskAssigned', (d) => d.job.toString() === job).map((e) => e.data.task.toString());
  assert.deepEqual(await page.$$eval('tr[data-task]', (r) => r.map((x) => x.dataset.task)), [...new Set(tasks)]);
  for (const verified of find('marketplace', 'TaskVerified', (d) => tasks.includes(d.task.toString()))) {
    const row = `tr[data-task="${verified.data.task}"]`;
    assert.equal(await raw(page, `${row} [data-field="task-state"]`), 'Verified');
    assert.ok((await raws(page, `${row} .cid`)).includes(chainCidText(verified.data.result)), 'the output CID the chain verified');
    const selected = find('proofOfCompute', 'CommitteeSelected', (d) => d.subject.isTask && d.subject.asTask.toString() === verified.data.task.toString()).at(-1);
    const committee = await page.$eval(`${row} [data-field="committee"]`, (e) => e.textContent);
    assert.ok(committee.includes(`${selected.data.members.length} members`), committee);
  }
  const completed = done[0].data;
  const shown = await raws(page, 'dl.kv .bal');
  for (const f of ['paid', 'fee', 'verifiers', 'refund']) assert.ok(shown.includes(completed[f].toString()), `JobCompleted.${f} ${completed[f]}`);
  assert.equal(await page.$eval('[data-field="state"]', (e) => e.textContent), 'completed');
  await shot(page, 'job-inference');
  await page.close();
});

test('a training job\'s page shows every epoch\'s checkpoint CIDs, gradient roots and audits, and the trained model', async () => {
  const trained = find('marketplace', 'ModelTrained');
  assert.ok(trained.length > 0, 'the main job trained a model');
  const job = trained[0].data.job.toString();
  const page = await open(`job/${job}`);
  const { at } = await drawn(page);
  const model = (await at.query.marketplace.trainedModels(job)).unwrap();
  assert.ok((await raws(page, 'dl.kv .cid')).includes(chainCidText(model.checkpoint)), 'the trained checkpoint');
  const epochs = await at.query.proofOfCompute.epochHistory.entries(job);
  assert.ok(epochs.length > 0);
  for (const [key, rec] of epochs) {
    const e = key.args[1].toString();
    const cids = await raws(page, `tr[data-epoch="${e}"] .cid`);
    const roots = await raws(page, `tr[data-epoch="${e}"] .hash`);
    for (const [, c] of rec.unwrap().commits) {
      assert.ok(cids.includes(chainCidText(c.checkpoint)), `epoch ${e}: checkpoint`);
      assert.ok(roots.includes(c.root.toHex()), `epoch ${e}: gradient root`);
    }
  }
  await shot(page, 'job-training');
  await page.close();
});

test('a provider\'s page shows its stake, balance, offers, tasks and earnings as the chain has them, pauses and resumes its offer, and shows its worker\'s live metrics', async () => {
  const [metricsUrl, uri] = (process.env.VERITY_DASHBOARD_METRICS ?? ' //Charlie').split(' ');
  const who = keyring.addFromUri(uri).address;
  const page = await open(`provider/${who}`);
  await historyRead(page);
  const { at } = await drawn(page);
  assert.equal(await raw(page, '[data-field="free"] .bal'), (await at.query.system.account(who)).data.free.toString());
  assert.equal(await raw(page, '[data-field="stake"] .bal'), (await at.query.stakingGovernance.ledgers(who)).unwrap().active.toString());
  const offers = (await at.query.marketplace.providerOffers.entries(who)).map(([, id]) => id.unwrap().toString());
  assert.ok(offers.length > 0);
  assert.deepEqual(await raws(page, '[data-provider-offers] tbody tr td:first-child span'), offers);
  const tasks = find('marketplace', 'TaskAssigned', (d) => d.provider.toString() === who).map((e) => e.data.task.toString());
  assert.ok(tasks.length > 0, 'the provider did tasks in the main job');
  const shownTasks = await raws(page, '[data-provider-tasks] tbody tr td:first-child span');
  for (const t of tasks) assert.ok(shownTasks.includes(t), `task ${t}`);
  // Earnings: every payment shown is a transfer to it in a block where a job paid.
  const earned = BigInt(await raw(page, '[data-field="earned"] > .bal'));
  assert.ok(earned > 0n, 'the provider earned in the main job');
  const paidBlocks = new Set(events.filter((e) => ['JobCompleted', 'VerifiedTasksPaid', 'VoucherRedeemed', 'AuditPassed', 'ResultAccepted'].includes(e.method)).map((e) => e.block));
  for (const b of await raws(page, '[data-earnings] tbody tr td:first-child .blk')) assert.ok(paidBlocks.has(Number(b)), `payment at #${b}`);
  // The provider pauses its offer from the page, and resumes it.
  await page.waitForSelector(`#account option[value="${who}"]`);
  await page.select('#account', who);
  for (const [button, status] of [['pause', 'Paused'], ['resume', 'Active']]) {
    const sel = `[data-provider-offers] tr[data-offer="${offers[0]}"] button[data-status="${status}"]`;
    await page.waitForSelector(sel);
    await page.evaluate(() => { document.querySelector('#status').className = ''; });
    await press(page, sel);
    const landed = await until(page, (p) => p.$eval('#status.ok', (e) => e.textContent).catch(() => null), `${button} in a block`);
    assert.match(landed, /marketplace\.setOfferStatus: in block #\d+/);
    assert.equal((await api.query.marketplace.offers(offers[0])).unwrap().status.type, status, button);
    // The view drawn at a later block shows it (a fresh page reads the same state).
    const again = await open(`provider/${who}`);
    assert.equal(await again.$eval(`[data-provider-offers] tr[data-offer="${offers[0]}"] [data-field="status"]`, (e) => e.textContent), status);
    await again.close();
  }
  if (metricsUrl) {
    await page.type('#metrics-form input', metricsUrl);
    await page.click('#metrics-form button');
    const best = await until(page, (p) => p.$eval('[data-metric="verity_worker_provider_best_block"]', (e) => Number(e.textContent)).catch(() => 0), 'the worker\'s metrics');
    assert.ok(best > 0);
  }
  await shot(page, 'provider');
  await page.close();
});

test('the channels page shows the buyer\'s channels with their deposits and redeemed amounts', async () => {
  const alice = keyring.addFromUri('//Alice').address;
  const page = await open(`channels/${alice}`);
  const { at } = await drawn(page);
  const open_ = (await at.query.feeSettlement.buyers(alice)).open.map((h) => h.toHex());
  assert.ok(open_.length > 0, 'the main job\'s buyer paid the server through a channel');
  assert.deepEqual((await page.$$eval('[data-channels-buyer] tr[data-channel]', (r) => r.map((x) => x.dataset.channel))).sort(), [...open_].sort());
  for (const id of open_) {
    const c = (await at.query.feeSettlement.channels(id)).unwrap();
    assert.equal(await raw(page, `[data-channels-buyer] tr[data-channel="${id}"] [data-field="deposit"] .bal`), c.deposit.toString());
    assert.equal(await raw(page, `[data-channels-buyer] tr[data-channel="${id}"] [data-field="paid"] .bal`), c.paid.toString());
  }
  await shot(page, 'channels');
  await page.close();
});

test('a vote cast from the governance page lands on chain; a failing one shows its named error; the tally follows another voter within one block', async () => {
  const alice = keyring.addFromUri('//Alice');
  const sudo = async (call) => {
    const r = await signAndInclude(api, api.tx.sudo.sudo(call), alice);
    assert.equal(r.dispatchError && errorName(api, r.dispatchError), null);
  };
  // The dev chain votes for 5 blocks; 50 leave the browser time. Put back afterwards.
  const params = (await api.query.stakingGovernance.parameters()).unwrap();
  await sudo(api.tx.stakingGovernance.setParams({ ...params.toJSON(), votingPeriod: 50 }));
  try {
    const period = await api.query.feeSettlement.challengePeriod();
    const proposed = await signAndInclude(api, api.tx.stakingGovernance.propose(api.tx.feeSettlement.setChallengePeriod(period)), alice);
    assert.equal(proposed.dispatchError, null);
    const index = proposed.events.find(({ event }) => api.events.stakingGovernance.Proposed.is(event)).event.data.index.toString();

    // A browser extension's account: the polkadot.js injection protocol (`window.injectedWeb3`),
    // its signer signing here with @polkadot/keyring. A fresh account, funded and bonded for this.
    const ext = keyring.addFromUri(`//Alice//dashboard-extension-${Date.now()}`);
    const min = (await api.query.stakingGovernance.parameters()).unwrap().minProviderBond.toBigInt();
    const funded = await signAndInclude(api, api.tx.balances.transferKeepAlive(ext.address, 2n * min), alice);
    assert.equal(funded.dispatchError, null);
    const bonded = await signAndInclude(api, api.tx.stakingGovernance.bond(min), ext);
    assert.equal(bonded.dispatchError && errorName(api, bonded.dispatchError), null);
    const extension = async (page) => {
      await page.exposeFunction('verityTestSign', (json) => {
        const payload = JSON.parse(json);
        return api.registry.createType('ExtrinsicPayload', payload, { version: payload.version }).sign(ext).signature;
      });
      await page.evaluateOnNewDocument((address) => {
        const accounts = [{ address, name: 'Extension account', type: 'sr25519' }];
        window.injectedWeb3 = {
          'polkadot-js': {
            version: 'test',
            enable: async () => ({
              accounts: { get: async () => accounts, subscribe: (cb) => { cb(accounts); return () => {}; } },
              signer: { signPayload: async (payload) => ({ id: 1, signature: await window.verityTestSign(JSON.stringify(payload)) }) },
            }),
          },
        };
      }, ext.address);
    };

    const charlie = keyring.addFromUri('//Charlie');
    const page = await open('governance', 1280, extension);
    await page.waitForSelector('#account option:nth-child(3)');
    await page.select('#account', charlie.address);
    const aye = `tr[data-proposal="${index}"] button[data-aye="1"]`;
    await press(page, aye);
    const landed = await until(page, (p) => p.$eval('#status.ok', (e) => e.textContent).catch(() => null), 'the vote in a block');
    assert.match(landed, /stakingGovernance\.vote: in block #\d+/);
    const vote = (await api.query.stakingGovernance.votes(index, charlie.address)).unwrap();
    assert.equal(vote.aye.isTrue, true);
    assert.equal(vote.stake.toString(), (await api.query.stakingGovernance.ledgers(charlie.address)).unwrap().active.toString());
    await until(page, async (p) => (await raw(p, `tr[data-proposal="${index}"] [data-field="ayes"] .bal`)) === vote.stake.toString(), 'Charlie\'s stake in the ayes');

    // Dave votes from outside the page: the tally shows it in the block it landed in or the next.
    const dave = keyring.addFromUri('//Dave');
    const r = await signAndInclude(api, api.tx.stakingGovernance.vote(index, false), dave);
    assert.equal(r.dispatchError, null);
    const votedAt = (await api.rpc.chain.getHeader(r.blockHash)).number.toNumber();
    await until(page, async (p) => (await raw(p, `tr[data-proposal="${index}"] [data-field="voters"] .num`)) === '2', 'Dave\'s vote');
    const { n } = await drawn(page);
    assert.ok(n <= votedAt + 1, `the vote landed in #${votedAt}, the page showed it first at #${n}`);

    // The extension's account votes nay from the page: its signer signs.
    assert.ok(await page.$(`#account option[value="${ext.address}"]`), 'the extension\'s account is offered');
    await page.select('#account', ext.address);
    const nay = `tr[data-proposal="${index}"] button[data-aye="0"]`;
    await page.waitForSelector(nay);
    await page.evaluate(() => { document.querySelector('#status').className = ''; });
    await press(page, nay);
    await until(page, (p) => p.$eval('#status.ok', (e) => e.textContent).catch(() => null), 'the extension\'s vote in a block');
    assert.equal((await api.query.stakingGovernance.votes(index, ext.address)).unwrap().aye.isFalse, true);

    // Ferdie has no stake: the page says why the vote failed, by the error's name.
    const ferdie = keyring.addFromUri('//Ferdie');
    await page.select('#account', ferdie.address);
    await press(page, aye);
    const failed = await until(page, (p) => p.$eval('#status.error', (e) => e.textContent).catch(() => null), 'the failed vote');
    assert.match(failed, /stakingGovernance\.NoStake/);
    assert.ok((await api.query.stakingGovernance.votes(index, ferdie.address)).isNone);
    await shot(page, 'governance');
    await page.close();
  } finally {
    await sudo(api.tx.stakingGovernance.setParams(params));
  }
});

test('a job page follows its job within one block: queued, then cancelled', async () => {
  const ferdie = keyring.addFromUri('//Ferdie');
  const kernels = await api.query.aivmRegistry.kernels.entries();
  const kernel = kernels.find(([, k]) => k.unwrap().status.isActive)[0].args[0];
  const cls = (await api.query.marketplace.resourceClasses(0)).unwrap();
  const best = (await api.rpc.chain.getHeader()).number.toNumber();
  // At the class's lowest price no offer takes it: it waits in the queue.
  const input = rawCid(new TextEncoder().encode(`dashboard test ${Date.now()}`));
  const posted = await signAndInclude(api, api.tx.marketplace.postJob(kernel, 0, { Inference: { inputs: [input], committee: 3 } }, 1, cls.minPrice, best + 200), ferdie);
  assert.equal(posted.dispatchError && errorName(api, posted.dispatchError), null);
  const job = posted.events.find(({ event }) => api.events.marketplace.JobPosted.is(event)).event.data.job.toString();
  const page = await open(`job/${job}`);
  await until(page, (p) => p.$eval('[data-field="state"]', (e) => e.textContent === 'queued').catch(() => false), 'the queued job');
  const r = await signAndInclude(api, api.tx.marketplace.cancelJob(job), ferdie);
  assert.equal(r.dispatchError && errorName(api, r.dispatchError), null);
  const cancelledAt = (await api.rpc.chain.getHeader(r.blockHash)).number.toNumber();
  await until(page, (p) => p.$eval('[data-field="state"]', (e) => e.textContent === 'cancelled').catch(() => false), 'the cancellation');
  const { n } = await drawn(page);
  assert.ok(n <= cancelledAt + 1, `cancelled in #${cancelledAt}, shown first at #${n}`);
  await page.close();
});

test('the validators page shows the session\'s set, the candidates and their stake', async () => {
  const page = await open('validators');
  const { at } = await drawn(page);
  const set = (await at.query.session.validators()).map(String);
  const everyone = [...new Set([...set, ...(await at.query.stakingGovernance.electedValidators()).map(String), ...(await at.query.stakingGovernance.candidates()).map(String)])];
  assert.deepEqual((await page.$$eval('tr[data-validator]', (r) => r.map((x) => x.dataset.validator))).sort(), everyone.sort());
  for (const v of everyone) {
    const l = await at.query.stakingGovernance.ledgers(v);
    assert.equal(await raw(page, `tr[data-validator="${v}"] [data-field="stake"] .bal`), l.isSome ? l.unwrap().active.toString() : '0');
  }
  assert.equal(await raw(page, '[data-field="session"] .num'), (await at.query.session.currentIndex()).toString());
  await shot(page, 'validators');
  await page.close();
});

test('a node that cannot be reached is named on the page', async () => {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/?rpc=${encodeURIComponent('ws://127.0.0.1:1')}#/market`);
  const text = await until(page, (p) => p.$eval('#page .error', (e) => e.textContent).catch(() => null), 'the connection error', 30_000);
  assert.match(text, /Cannot reach the node at ws:\/\/127\.0\.0\.1:1/);
  await page.close();
});
