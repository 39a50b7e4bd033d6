// The provider daemon against the real node: `verity-worker provide` processes (own keys, own
// data directories) do everything a provider does, and the test acts only as the buyer (Ferdie),
// the kernel's owner (Bob) and the chain's operator (sudo, to shorten the commit and reveal
// windows). Its own dev node, because workers here are killed, faulty and restarted, and the
// node itself is stopped and started again.
//   VERITY_WORKER         the worker
//   VERITY_WORKER_FAULTY  the worker built with --features fault-injection (e2e.sh builds it)
//   VERITY_KERNELS        kernels exported by scripts/kernels.py
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiPromise, WsProvider } from '@polkadot/api';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady, randomAsU8a } from '@polkadot/util-crypto';
import {
  chainCidText, errorName, findEvent, rawCid, readManifest, registerKernelTx, signAndInclude, VER, workerInfer,
} from './lib.mjs';
import { endpointAddr, fetchBlob, startNode, startProvider, startServe } from './providers.mjs';

const MILLI = VER / 1000n;
const kernelDir = join(process.env.VERITY_KERNELS || '', 'digits');
const testSet = join(kernelDir, 'test.safetensors');
const archive = join(kernelDir, 'kernel.pt');
let dir;
let node;
let api;
let keyring;
let served;
let kernel;
const workers = {};
/** Every marketplace and proof-of-compute event since the start, with its block number. */
const log = [];

const acct = (uri) => keyring.addFromUri(uri);
async function send(tx, signer) {
  const r = await signAndInclude(api, tx, signer);
  if (r.dispatchError) throw new Error(errorName(api, r.dispatchError));
  return r.events;
}
const head = async () => (await api.rpc.chain.getHeader()).number.toNumber();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const events = (section, method, pred = () => true) => log.filter(({ e }) => e.section === section && e.method === method && pred(e.data));
async function until(what, cond, ms = 240_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(500);
  }
}

async function provider(name, suri, args, bin = process.env.VERITY_WORKER, opts = {}) {
  const w = await startProvider({ suri, dir: join(dir, name), args: ['--capacity', '100', ...args], bin, ws: node.ws, ...opts });
  workers[name] = w;
  return w;
}

/** Posts an inference job over the test set (or `inputs`) from Ferdie; returns its id. */
async function postJob({ cls = 0, committee = 3, inputs = [rawCid(readFileSync(testSet))], deadlineIn = 60 } = {}) {
  const deadline = (await head()) + deadlineIn;
  const evs = await send(api.tx.marketplace.postJob(kernel, cls, { Inference: { inputs, committee } }, 360, 50n * MILLI, deadline), acct('//Ferdie'));
  return findEvent(evs, 'marketplace', 'JobPosted').data.job.toNumber();
}
const jobEnd = (job) => until(`job ${job} to end`, () => events('marketplace', 'JobCompleted', (d) => d.job.toNumber() === job)[0]
  || events('marketplace', 'JobFailed', (d) => d.job.toNumber() === job)[0]);
const tasksOf = (job) => events('marketplace', 'TaskAssigned', (d) => d.job.toNumber() === job).map(({ e }) => e.data);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'verity-provide-'));
  node = await startNode(join(dir, 'node'));
  await cryptoWaitReady();
  api = await ApiPromise.create({ provider: new WsProvider(node.ws), noInitWarn: true });
  keyring = new Keyring({ type: 'sr25519', ss58Format: api.registry.chainSS58 });
  await api.query.system.events((records) => {
    for (const { event } of records) if (['marketplace', 'proofOfCompute'].includes(event.section)) log.push({ e: event, at: Date.now() });
  });
  // Short commit and reveal windows (2 blocks each) and accept window (3) keep the test quick.
  const poc = (await api.query.proofOfCompute.params()).unwrap().toJSON();
  await send(api.tx.sudo.sudo(api.tx.proofOfCompute.setParams({ ...poc, commitWindow: 2, revealWindow: 2 })), acct('//Alice'));
  const market = (await api.query.marketplace.params()).unwrap().toJSON();
  await send(api.tx.sudo.sudo(api.tx.marketplace.setParams({ ...market, acceptWindow: 3 })), acct('//Alice'));
  // The buyer's blobs and the kernel on chain.
  served = await startServe(join(dir, 'buyer'), [archive, testSet]);
  const evs = await send(registerKernelTx(api, readManifest(kernelDir).record), acct('//Bob'));
  kernel = findEvent(evs, 'aivmRegistry', 'KernelRegistered').data.kernel.toHex();
  for (const who of ['//Bob', '//Ferdie']) await send(api.tx.marketplace.setEndpoint(served.endpoint.peer, served.endpoint.addrs), acct(who));
  await Promise.all([
    provider('charlie', '//Charlie', ['--price', '0.012']),
    provider('dave', '//Dave', ['--price', '0.02']),
    provider('eve', '//Eve', ['--price', '0.025']),
    // A committee is the provider and three verifiers: a fourth daemon.
    provider('alice-stash', '//Alice//stash', ['--price', '0.03']),
  ]);
  await until('four offers and verifiers', async () => (await api.query.proofOfCompute.verifiers()).length >= 4
    && (await api.query.marketplace.offers.entries()).length >= 4);
});

after(async () => {
  for (const w of Object.values(workers)) await w.stop('SIGKILL');
  served?.proc.kill();
  await api?.disconnect();
  if (node) await node.stop();
  if (process.env.VERITY_KEEP_LOGS) console.log(`logs in ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
});

test('an inference job from polkadot.js is run, verified by a committee of daemons and paid', async () => {
  const job = await postJob();
  const end = await jobEnd(job);
  assert.equal(end.e.method, 'JobCompleted', `job ${job}: ${end.e.data.reason}`);
  const [task] = tasksOf(job);
  assert.equal(task.provider.toString(), acct('//Charlie').address, 'the cheapest offer got it');
  const id = task.task.toNumber();
  const round = events('proofOfCompute', 'CommitteeSelected', (d) => d.subject.isTask && d.subject.asTask.toNumber() === id)[0].e.data;
  assert.equal(round.members.length, 4, 'the provider and three verifiers');
  const revealed = events('proofOfCompute', 'Revealed', (d) => d.round.eq(round.round)).map(({ e }) => e.data);
  assert.equal(revealed.length, 4, 'every member revealed');
  const accepted = events('proofOfCompute', 'ResultAccepted', (d) => d.round.eq(round.round))[0].e.data;
  assert.equal(accepted.agreeing.length, 4);
  // The buyer fetches the output by its CID from the provider (checked against the CID by the
  // fetch) and finds the digest the committee agreed on by running the kernel itself.
  const cid = chainCidText(events('marketplace', 'TaskVerified', (d) => d.task.toNumber() === id)[0].e.data.result);
  const endpoint = (await api.query.marketplace.endpoints(task.provider)).unwrap();
  const file = await fetchBlob(join(dir, 'fetched'), endpointAddr(endpoint), cid);
  assert.equal(rawCid(readFileSync(file)), cid);
  const mine = await workerInfer(kernelDir, testSet, join(dir, 'buyer-run'));
  assert.equal(mine.output_cid, cid, 'the same kernel on the same input gives the same output blob');
  assert.equal(accepted.digest.toHex(), mine.digest);
  // Nothing here signed for a provider: every provider transaction came from the daemons.
  assert.equal(end.e.data.paid.toBigInt() > 0n, true);
});

test('a provider killed between its commit and its reveal reveals after a restart and is not slashed', async () => {
  const charlie = acct('//Charlie').address;
  const job = await postJob();
  const committed = await until('Charlie\'s commitment', () => events('proofOfCompute', 'Committed', (d) => d.member.toString() === charlie
    && events('proofOfCompute', 'CommitteeSelected', (s) => s.round.eq(d.round) && s.subject.isTask
      && tasksOf(job).some((t) => t.task.eq(s.subject.asTask))).length > 0)[0]);
  const round = committed.e.data.round.toNumber();
  await workers.charlie.stop('SIGKILL');
  await provider('charlie', '//Charlie', ['--price', '0.012']);
  const end = await jobEnd(job);
  assert.equal(end.e.method, 'JobCompleted');
  assert.ok(events('proofOfCompute', 'Revealed', (d) => d.round.toNumber() === round && d.member.toString() === charlie).length, 'revealed after the restart');
  assert.equal(events('proofOfCompute', 'Penalised', (d) => d.member.toString() === charlie).length, 0);
});

test('bad input: a corrupt local copy, an input nobody serves, a key with no stake, a node that goes away', async () => {
  // All at once: a job whose archive Charlie holds a corrupt copy of, a job whose input nobody
  // serves, and a provider whose account has no stake.
  writeFileSync(join(workers.charlie.dir, 'store', readManifest(kernelDir).record.archive), 'not the archive');
  const job = await postJob();
  const missing = rawCid(randomAsU8a(64));
  const orphan = await postJob({ inputs: [missing], deadlineIn: 12 });
  const uri = `//Unstaked${Date.now()}`;
  const fresh = acct(uri);
  await send(api.tx.balances.transferKeepAlive(fresh.address, 5_000n * VER), acct('//Alice'));
  const w = await provider('unstaked', uri, ['--class', '2', '--no-verify', '--price', '0.5'], undefined, { bond: false });

  // The key with no stake: the daemon says what to bond and sends nothing; once its operator
  // bonds (from polkadot.js) it carries on.
  await until('the stake message', () => /the minimum provider stake is .*: bond .* more/.test(w.log()));
  assert.equal((await api.rpc.system.accountNextIndex(fresh.address)).toNumber(), 0, 'no transaction was sent');
  const { minProviderBond } = (await api.query.stakingGovernance.parameters()).unwrap();
  await send(api.tx.stakingGovernance.bond(minProviderBond), fresh);
  await until('its offer', async () => (await api.query.marketplace.providerOffers(fresh.address, 2)).isSome);

  // The corrupt copy is discarded and fetched again; the job completes.
  assert.equal((await jobEnd(job)).e.method, 'JobCompleted');
  assert.match(workers.charlie.log(), /does not match its CID; discarded, fetching it again/);

  // The input nobody serves: no result is submitted; the job fails at its deadline, refunded.
  const end = await jobEnd(orphan);
  assert.equal(end.e.method, 'JobFailed');
  const ids = tasksOf(orphan).map((t) => t.task.toNumber());
  assert.equal(events('marketplace', 'ResultSubmitted', (d) => ids.includes(d.task.toNumber())).length, 0);
  assert.match(Object.values(workers).map((x) => x.log()).join('\n'), new RegExp(`no peer (served|in the endpoint directory can serve) blob ${missing}`));

  // The node goes away and comes back: the daemons reconnect and the next job completes.
  await node.stop();
  await sleep(4_000);
  await node.start();
  await until('the api to reconnect', async () => api.isConnected);
  const after = await postJob();
  assert.equal((await jobEnd(after)).e.method, 'JobCompleted');
  assert.match(workers.dave.log(), /lost the node; reconnecting|cannot reach the node/);
});

test('a provider returning wrong outputs is outvoted and slashed; the honest ones are credited', async () => {
  const faulty = process.env.VERITY_WORKER_FAULTY;
  assert.ok(faulty, 'VERITY_WORKER_FAULTY (the fault-injection build) is not set');
  const ferdieStash = acct('//Ferdie//stash').address;
  await provider('faulty', '//Ferdie//stash', ['--price', '0.005', '--fault-wrong-output'], faulty);
  await until('the faulty offer', async () => (await api.query.marketplace.providerOffers(ferdieStash, 0)).isSome);
  const job = await postJob();
  const end = await jobEnd(job);
  assert.equal(end.e.method, 'JobCompleted');
  const tasks = tasksOf(job);
  assert.equal(tasks[0].provider.toString(), ferdieStash, 'the cheapest (faulty) offer got it first');
  const id = tasks[0].task.toNumber();
  assert.ok(events('marketplace', 'TaskRejected', (d) => d.task.toNumber() === id).length, 'its result was rejected');
  assert.ok(events('proofOfCompute', 'Penalised', (d) => d.member.toString() === ferdieStash).length, 'and it was slashed');
  const verified = events('marketplace', 'TaskVerified', (d) => d.task.toNumber() === id)[0];
  assert.ok(verified, 'the task was redone by an honest provider and verified');
  const credited = (events('proofOfCompute', 'ResultAccepted').at(-1)).e.data.agreeing.map((a) => a.toString());
  assert.ok(!credited.includes(ferdieStash));
  assert.ok(credited.length >= 2);
});

test('a provider killed before it accepts: its task goes to another provider and the job completes', async () => {
  const [k, h] = [acct('//Bob//stash').address, acct('//Dave//stash').address];
  await provider('gone', '//Bob//stash', ['--class', '1', '--no-verify', '--price', '0.01']);
  await provider('backup', '//Dave//stash', ['--class', '1', '--no-verify', '--price', '0.02']);
  await until('both class-1 offers', async () => (await api.query.marketplace.providerOffers(k, 1)).isSome
    && (await api.query.marketplace.providerOffers(h, 1)).isSome);
  await workers.gone.stop('SIGKILL');
  const job = await postJob({ cls: 1 });
  const end = await jobEnd(job);
  assert.equal(end.e.method, 'JobCompleted');
  const tasks = tasksOf(job);
  assert.equal(tasks[0].provider.toString(), k, 'the cheapest offer got it first');
  assert.ok(events('marketplace', 'DeadlineMissed', (d) => d.provider.toString() === k).length);
  assert.equal(tasks.at(-1).provider.toString(), h, 'then the next offer');
});

test('a training task, which the daemons do not run, is declined without penalty and the job fails cleanly', async () => {
  const deadline = (await head()) + 60;
  const kind = { Training: { dataset: rawCid(readFileSync(testSet)), hyperparams: '0x', epochs: 1, groupSize: 1 } };
  const evs = await send(api.tx.marketplace.postJob(kernel, 0, kind, 360, 50n * MILLI, deadline), acct('//Ferdie'));
  const job = findEvent(evs, 'marketplace', 'JobPosted').data.job.toNumber();
  const end = await jobEnd(job);
  assert.equal(end.e.method, 'JobFailed');
  assert.ok(end.e.data.reason.isNoProvider, `failed: ${end.e.data.reason}`);
  const ids = tasksOf(job).map((t) => t.task.toNumber());
  const declined = events('marketplace', 'TaskDeclined', (d) => ids.includes(d.task.toNumber()));
  assert.ok(declined.length >= 1, 'declined by the daemons it was offered to');
  const decliners = declined.map(({ e }) => e.data.provider.toString());
  assert.equal(events('marketplace', 'DeadlineMissed', (d) => decliners.includes(d.provider.toString())
    && ids.includes(d.task.toNumber())).length, 0, 'no penalty for declining');
  assert.equal(events('marketplace', 'TaskAccepted', (d) => ids.includes(d.task.toNumber())).length, 0);
});

test('a provider priced at a factor of the index re-prices its offer when the index moves', async () => {
  const cls = 2;
  const market = (await api.query.marketplace.params()).unwrap().toJSON();
  const definition = (await api.query.marketplace.resourceClasses(cls)).unwrap().toJSON();
  const uri = `//Pricer${Date.now()}`;
  const me = acct(uri).address;
  await send(api.tx.balances.transferKeepAlive(me, 5_000n * VER), acct('//Alice'));
  // No smoothing: the index sits at the class's floor (no demand) and jumps with it.
  await send(api.tx.sudo.sudo(api.tx.marketplace.setParams({ ...market, indexSmoothing: 1_000_000_000 })), acct('//Alice'));
  try {
    const index = async () => (await api.query.marketplace.priceIndex(cls)).toBigInt();
    const offerPrice = async () => {
      const id = await api.query.marketplace.providerOffers(me, cls);
      if (id.isNone) return null;
      const price = (await api.query.marketplace.offers(id.unwrap())).unwrap().price;
      return price.isFixed ? price.asFixed.toBigInt() : null;
    };
    await until('the index at the floor', async () => (await index()) === BigInt(definition.minPrice));
    await provider('pricer', uri, ['--class', String(cls), '--no-verify', '--price-factor', '0.8']);
    const atStart = BigInt(definition.minPrice) / 1000n * 800n;
    await until('the offer at 0.8 × the index', async () => (await offerPrice()) === atStart);
    // Governance raises the floor tenfold: the index follows in a block, the offer within the
    // daemon's re-pricing period (10 blocks).
    const raised = BigInt(definition.minPrice) * 10n;
    await send(api.tx.sudo.sudo(api.tx.marketplace.setResourceClass(cls, { ...definition, minPrice: raised })), acct('//Alice'));
    await until('the index at the new floor', async () => (await index()) === raised);
    await until('the offer re-priced to 0.8 × the new index', async () => (await offerPrice()) === raised / 1000n * 800n, 120_000);
    assert.match(workers.pricer.log(), /the price index moved; re-pricing the offer/);
  } finally {
    await send(api.tx.sudo.sudo(api.tx.marketplace.setParams(market)), acct('//Alice'));
    await send(api.tx.sudo.sudo(api.tx.marketplace.setResourceClass(cls, definition)), acct('//Alice'));
  }
});
