// Training on chain: a training job posted from polkadot.js is trained by a group of three
// provider daemons (`verity-worker provide --train`) that the chain formed, every epoch's
// checkpoint CID and step-chain root goes on chain, audits drawn by the chain are answered by the
// audited members (leaf + Merkle proof, and their step chains and states to the auditors) and
// replayed one step each by three more daemons outside the group, the final checkpoint passes the
// training verification round, and the buyer fetches it by CID and measures its accuracy; a member
// killed mid-training and restarted rejoins its group, which waited for it (the group grows back). Members built with the test-only faults
// that commit made-up step digests or serve no step chain are caught by audits and slashed. Its
// own dev node (windows shortened by sudo).
//   VERITY_WORKER         the worker
//   VERITY_WORKER_FAULTY  the worker built with --features fault-injection (e2e.sh builds it)
//   VERITY_KERNELS        kernels exported by scripts/kernels.py
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ApiPromise, WsProvider } from '@polkadot/api';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import {
  chainCidText, errorName, findEvent, rawCid, readManifest, registerKernelTx, registerTrainedKernelTx, signAndFinalize, signAndInclude, VER, workerLineage,
} from './lib.mjs';
import {
  accuracy, DIGITS_HYPER, endpointAddr, exportVersion, fetchBlob, followEvents, putBlob, readSafetensors, startNode, startProvider, startServe,
  trainingJob, trainLocally, workerBin,
} from './providers.mjs';

const run = promisify(execFile);
const MILLI = VER / 1000n;
const kernelDir = join(process.env.VERITY_KERNELS || '', 'digits');
const trainSet = join(kernelDir, 'train.safetensors');
const testSet = join(kernelDir, 'test.safetensors');
const archive = join(kernelDir, 'kernel.pt');
/** The class the trainers offer and training jobs are posted in (auditors offer another one). */
const TRAIN_CLASS = 1;
const EPOCHS = 5;
const hyper = DIGITS_HYPER;
let dir;
let node;
let api;
let keyring;
let served;
let kernel;
/** The first job's final checkpoint: its file, CID, right answers and output CID on the test set. */
let trained;
const workers = {};
/** Every marketplace and proof-of-compute event since the start (`followEvents`). */
let log = [];

const acct = (uri) => keyring.addFromUri(uri);
async function send(tx, signer) {
  const r = await signAndInclude(api, tx, signer);
  if (r.dispatchError) throw new Error(errorName(api, r.dispatchError));
  return r.events;
}
const head = async () => (await api.rpc.chain.getHeader()).number.toNumber();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const events = (section, method, pred = () => true) => log.filter(({ e }) => e.section === section && e.method === method && pred(e.data));
/** What happened, for a failure's message: the events seen and the end of every daemon's log. */
function trace() {
  const evs = log.map(({ e, block }) => `  #${block} ${e.section}.${e.method} ${JSON.stringify(e.data.toHuman())}`);
  const logs = Object.entries(workers).map(([name, w]) => {
    let text = '';
    try { text = w.log(); } catch { /* not started */ }
    return `--- ${name} (${w.dir}/provide.log), last lines:\n${text.split('\n').slice(-40).join('\n')}`;
  });
  return [`events (${evs.length}):`, ...evs.slice(-150), ...logs].join('\n');
}
async function until(what, cond, ms = 600_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${trace()}`);
    await sleep(500);
  }
}
const tasksOf = (job) => events('marketplace', 'TaskAssigned', (d) => d.job.toNumber() === job).map(({ e }) => e.data);
const jobEnd = (job) => until(`job ${job} to end`, () => events('marketplace', 'JobCompleted', (d) => d.job.toNumber() === job)[0]
  || events('marketplace', 'JobFailed', (d) => d.job.toNumber() === job)[0]);

async function funded(uri) {
  await send(api.tx.balances.transferKeepAlive(acct(uri).address, 5_000n * VER), acct('//Alice'));
  return uri;
}

/** What `who` holds for epoch commitments (proof of compute's `EpochCommit` hold), in planck. */
async function epochHeld(who) {
  const holds = await api.query.balances.holds(who);
  return holds.filter((h) => h.id.toJSON()?.proofOfCompute === 'EpochCommit').reduce((sum, h) => sum + h.amount.toBigInt(), 0n);
}

async function provider(name, uri, args, bin = process.env.VERITY_WORKER) {
  const w = await startProvider({ suri: uri, dir: join(dir, name), args: ['--capacity', '1000', ...args], bin, ws: node.ws });
  workers[name] = w;
  return w;
}

/** Posts a training job of the digits kernel over its training set from Ferdie; returns its id. */
async function postTraining({ epochs = EPOCHS, deadlineIn = 400, settings = hyper } = {}) {
  const { kind, samples } = trainingJob(trainSet, settings, epochs);
  const deadline = (await head()) + deadlineIn;
  const evs = await send(api.tx.marketplace.postJob(kernel, TRAIN_CLASS, kind, samples, 50n * MILLI, deadline), acct('//Ferdie'));
  return findEvent(evs, 'marketplace', 'JobPosted').data.job.toNumber();
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'verity-train-'));
  node = await startNode(join(dir, 'node'));
  await cryptoWaitReady();
  api = await ApiPromise.create({ provider: new WsProvider(node.ws), noInitWarn: true });
  keyring = new Keyring({ type: 'sr25519', ss58Format: api.registry.chainSS58 });
  log = await followEvents(api);
  // Short windows keep the test quick: commit and reveal 3 blocks (an auditor replays its steps
  // inside the commit window), an epoch 3 blocks from its first commitment, accept 3.
  const poc = (await api.query.proofOfCompute.params()).unwrap().toJSON();
  await send(api.tx.sudo.sudo(api.tx.proofOfCompute.setParams({ ...poc, commitWindow: 3, revealWindow: 3, epochWindow: 3 })), acct('//Alice'));
  const market = (await api.query.marketplace.params()).unwrap().toJSON();
  await send(api.tx.sudo.sudo(api.tx.marketplace.setParams({ ...market, acceptWindow: 3 })), acct('//Alice'));
  served = await startServe(join(dir, 'buyer'), [archive, trainSet, testSet]);
  // The buyer owns the kernel, so that it can register a trained version of it.
  const evs = await send(registerKernelTx(api, readManifest(kernelDir).record), acct('//Ferdie'));
  kernel = findEvent(evs, 'aivmRegistry', 'KernelRegistered').data.kernel.toHex();
  for (const who of ['//Bob', '//Ferdie']) await send(api.tx.marketplace.setEndpoint(served.endpoint.peer, served.endpoint.addrs), acct(who));
  // Three trainers in the training class; three auditors (verifiers outside any group) elsewhere.
  const trainers = ['//Charlie', '//Dave', '//Eve'];
  const auditors = [];
  for (let i = 0; i < 3; i += 1) auditors.push(await funded(`//Auditor${i}`));
  await Promise.all([
    ...trainers.map((uri, i) => provider(`trainer-${i}`, uri, ['--class', String(TRAIN_CLASS), '--train', '--price', '0.004'])),
    ...auditors.map((uri, i) => provider(`auditor-${i}`, uri, ['--class', '0', '--price', '0.012'])),
  ]);
  await until('six verifiers and offers', async () => (await api.query.proofOfCompute.verifiers()).length >= 6
    && (await api.query.marketplace.offers.entries()).length >= 6);
});

after(async () => {
  for (const w of Object.values(workers)) await w.stop('SIGKILL');
  served?.proc.kill();
  await api?.disconnect();
  if (node) await node.stop();
  if (process.env.VERITY_KEEP_LOGS) console.log(`logs in ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
});

test('a training job is trained by the group the chain formed, every epoch on chain, audits passed, and paid; a member killed mid-training rejoins and the group grows back', async () => {
  const job = await postTraining();
  // Once Dave's daemon has trained its first epoch (and before its last), it is SIGKILLed in the
  // middle of the next one and started again on the same data directory.
  const dave = acct('//Dave').address;
  const daveTask = () => tasksOf(job).find((t) => t.provider.toString() === dave)?.task.toNumber();
  const trainedEpochs = (text) => [...text.matchAll(/epoch trained.* epoch=(\d+)/g)].length;
  let before = '';
  const deadline = Date.now() + 600_000;
  while (trainedEpochs(before = workers['trainer-1'].log()) < 1) {
    if (Date.now() > deadline) throw new Error(`Dave trained no epoch\n${trace()}`);
    await sleep(50);
  }
  // Started again where its endpoint on chain says (a provider's fixed port), so the group and
  // the auditors reach it again.
  const [, listen] = before.match(/provider starting.* addr=(\/ip4\/[\d.]+\/tcp\/\d+)/);
  await workers['trainer-1'].stop('SIGKILL');
  const killedAt = trainedEpochs(workers['trainer-1'].log());
  assert.ok(killedAt < EPOCHS, `killed mid-training (after ${killedAt} of ${EPOCHS} epochs)`);
  await provider('trainer-1', '//Dave', ['--class', String(TRAIN_CLASS), '--train', '--price', '0.004', '--listen', listen]);
  // Its new session rejoins the group (which waited for it) at its journal's last checkpoint.
  const joined = await until('Dave rejoining its group', () => workers['trainer-1'].log().slice(before.length)
    .match(/group formed.* resume=(\d+) checkpoint=(\w+)/));
  const [, resumedEpoch, resumedAt] = joined;
  const end = await jobEnd(job);
  assert.equal(end.e.method, 'JobCompleted', `job ${job}: ${end.e.data.reason}`);
  const tasks = tasksOf(job).map((t) => t.task.toNumber());
  assert.equal(new Set(tasks).size, 3, 'a group of three tasks');
  // Every member committed every epoch; within an epoch the checkpoints agree (one model), the
  // roots differ (each member's own steps).
  const committed = events('proofOfCompute', 'EpochCommitted', (d) => d.job.toNumber() === job).map(({ e }) => e.data);
  for (let epoch = 0; epoch < EPOCHS; epoch += 1) {
    const of = committed.filter((d) => d.epoch.toNumber() === epoch);
    assert.deepEqual(of.map((d) => d.task.toNumber()).sort(), [...tasks].sort(), `epoch ${epoch}: every member committed`);
    assert.equal(new Set(of.map((d) => chainCidText(d.checkpoint))).size, 1, `epoch ${epoch}: one checkpoint`);
    assert.equal(new Set(of.map((d) => d.root.toHex())).size, 3, `epoch ${epoch}: three roots`);
    assert.ok(of.every((d) => d.steps.toNumber() === hyper.innerSteps), 'the steps the job implies');
    console.log(`  epoch ${epoch}: checkpoint ${chainCidText(of[0].checkpoint)}`);
  }
  // Audits drawn for every epoch, all passed, nobody slashed.
  const drawn = events('proofOfCompute', 'AuditsDrawn', (d) => d.job.toNumber() === job).flatMap(({ e }) => e.data.audits.map((a) => a[0].toNumber()));
  assert.ok(drawn.length >= EPOCHS, `audits drawn: ${drawn.length}`);
  const passed = events('proofOfCompute', 'AuditPassed', (d) => drawn.includes(d.audit.toNumber()));
  assert.equal(passed.length, drawn.length, 'every audit passed');
  assert.equal(events('proofOfCompute', 'LeafRevealed', (d) => drawn.includes(d.audit.toNumber())).length, drawn.length);
  assert.equal(events('proofOfCompute', 'EpochInvalidated', (d) => d.job.toNumber() === job).length, 0);
  assert.equal(events('proofOfCompute', 'Penalised').length, 0, 'nobody slashed');
  assert.equal(events('marketplace', 'DeadlineMissed').length, 0, 'no deadline missed, the restart included');
  // The restarted daemon went on from its journal: a second session that joined the waiting
  // group at the newest checkpoint it had (no epoch trained twice by it), committed the rest and
  // answered audits; the others waited for it instead of going on without it.
  const after = workers['trainer-1'].log().slice(before.length);
  // (Its journal may lack the epoch it logged last, if the kill fell between the two.)
  const [, journaled] = after.match(/the group formed on chain; training.* journaled=(\d+)/);
  assert.ok(Number(journaled) >= killedAt - 1 && Number(journaled) >= 1, `journaled ${journaled}, logged ${killedAt}`);
  assert.equal(Number(resumedEpoch), Number(journaled), 'rejoined at its journal\'s last epoch');
  assert.ok(after.includes('CommitEpoch'), 'the remaining epochs committed after the restart');
  for (const name of ['trainer-0', 'trainer-2']) {
    const text = workers[name].log();
    assert.match(text, /the whole group answers again.* members=3/, `${name} waited for the group`);
    assert.match(text, /training finished.* reforms=[1-9]/, `${name} re-formed`);
  }
  const chainAt = committed.find((d) => d.task.toNumber() === daveTask() && d.epoch.toNumber() === Number(resumedEpoch) - 1);
  assert.equal(resumedAt, chainCidText(chainAt.checkpoint), 'the logged checkpoint is the chain\'s');
  console.log(`  Dave killed after ${killedAt} epochs, rejoined its group from the chain's checkpoint ${resumedAt}`);
  // The same training off chain, uninterrupted (three `verity-worker train` processes, each on
  // its task's shard, the ring in task order): the same checkpoint every epoch, so the restart
  // changed nothing and the chain's group trains exactly what the kernel and settings say.
  const shards = tasksOf(job).map((t) => ({ first: t.firstSample.toNumber(), len: t.samples.toNumber() }));
  const local = await trainLocally({ kernelDir, dir: join(dir, 'local'), shards, hyper, epochs: EPOCHS });
  for (let epoch = 0; epoch < EPOCHS; epoch += 1) {
    const onChain = chainCidText(committed.find((d) => d.epoch.toNumber() === epoch).checkpoint);
    assert.ok(local.every((r) => r.epochs[epoch].checkpoint === onChain), `epoch ${epoch}: ${onChain} on chain, ${local[0].epochs[epoch].checkpoint} off chain`);
  }
  // The result: the last epoch's checkpoint, verified for every task.
  const verified = events('marketplace', 'TaskVerified', (d) => tasks.includes(d.task.toNumber())).map(({ e }) => e.data);
  assert.equal(verified.length, 3);
  const finalCid = chainCidText(committed.find((d) => d.epoch.toNumber() === EPOCHS - 1).checkpoint);
  assert.ok(verified.every((v) => chainCidText(v.result) === finalCid), 'the result is the final checkpoint');
  // The chain keeps the job's verified history after the job: every epoch's start, each member's
  // checkpoint and step-digest root as committed, its audits (all passed); and the model.
  let start = null;
  for (let epoch = 0; epoch < EPOCHS; epoch += 1) {
    const record = (await api.query.proofOfCompute.epochHistory(job, epoch)).unwrap();
    const of = committed.filter((d) => d.epoch.toNumber() === epoch);
    assert.deepEqual(record.commits.map(([t, c]) => [t.toNumber(), chainCidText(c.checkpoint), c.root.toHex(), c.steps.toNumber()]).sort(),
      of.map((d) => [d.task.toNumber(), chainCidText(d.checkpoint), d.root.toHex(), d.steps.toNumber()]).sort(), `epoch ${epoch}: the commitments kept`);
    assert.equal(record.start.isSome ? chainCidText(record.start.unwrap()) : null, start, `epoch ${epoch}: starts where the last ended`);
    assert.ok(record.audits.toNumber() >= 1 && record.passed.eq(record.audits), `epoch ${epoch}: ${record.passed}/${record.audits} audits passed`);
    start = chainCidText(of[0].checkpoint);
  }
  // Each commitment held the member's epoch deposit while its epoch was live; every epoch has
  // ended, so every member has it back (security review, finding 2).
  for (const t of tasksOf(job)) {
    assert.equal(await epochHeld(t.provider), 0n, `${t.provider} holds no epoch deposit after the job`);
  }
  const model = (await api.query.marketplace.trainedModels(job)).unwrap();
  assert.equal(chainCidText(model.checkpoint), finalCid);
  assert.equal(model.kernel.toHex(), kernel);
  assert.equal(model.buyer.toString(), acct('//Ferdie').address);
  assert.equal(model.epochs.toNumber(), EPOCHS);
  assert.ok(model.version.isNone, 'no version registered yet');
  assert.ok(events('marketplace', 'ModelTrained', (d) => d.job.toNumber() === job).length, 'ModelTrained');
  // The buyer fetches it by CID from a member and measures it on the held-out test set.
  const member = tasksOf(job)[0].provider;
  const endpoint = (await api.query.marketplace.endpoints(member)).unwrap();
  const file = await fetchBlob(join(dir, 'fetched'), endpointAddr(endpoint), finalCid);
  const { stdout } = await run(workerBin(), ['infer', '--kernel', kernelDir, '--checkpoint', file, '--input', testSet,
    '--store', join(dir, 'buyer-eval')]);
  const out = JSON.parse(stdout.trim().split('\n').at(-1));
  const logits = readSafetensors(readFileSync(join(dir, 'buyer-eval', out.output_cid)));
  const { right, n } = accuracy(logits.output, readSafetensors(readFileSync(testSet)).y);
  console.log(`  final checkpoint ${finalCid}: ${right}/${n} right on the test set`);
  assert.ok(right / n >= 0.95, `accuracy ${right}/${n}`);
  trained = { job, file, cid: finalCid, right, output: out.output_cid };
});

test('the buyer registers the trained checkpoint as a new version of the kernel and an inference job runs it', async () => {
  assert.ok(trained, 'the training job above completed');
  // `verity-worker export`: the base archive with the checkpoint's parameters, a record that
  // supersedes the base kernel.
  const versionDir = join(dir, 'trained-kernel');
  const exported = await exportVersion(kernelDir, trained.file, versionDir, acct('//Ferdie').address);
  assert.equal(exported.supersedes, kernel);
  assert.equal(exported.checkpoint, trained.cid);
  const { record } = exported;
  assert.equal(record.supersedes, kernel);
  // The buyer (the base kernel's owner) serves the new archive and registers the new version as
  // the model of its training job: the chain keeps the lineage. Nobody else may, and only once.
  await putBlob(join(dir, 'buyer'), join(versionDir, 'kernel.pt'));
  const refused = await signAndInclude(api, registerTrainedKernelTx(api, trained.job, record), acct('//Bob'));
  assert.equal(errorName(api, refused.dispatchError), 'aivmRegistry.NotBuyer');
  // Finalized: `verity-worker lineage` reads settled history, the finalized state.
  const done = await signAndFinalize(api, registerTrainedKernelTx(api, trained.job, record), acct('//Ferdie'));
  assert.equal(done.dispatchError, null, done.dispatchError && errorName(api, done.dispatchError));
  const evs = done.events;
  const registered = findEvent(evs, 'aivmRegistry', 'KernelRegistered').data;
  assert.equal(registered.kernel.toHex(), exported.id);
  assert.equal(registered.supersedes.unwrap().toHex(), kernel);
  const lineageEvent = findEvent(evs, 'aivmRegistry', 'KernelTrained').data;
  assert.deepEqual([lineageEvent.kernel.toHex(), lineageEvent.base.toHex(), lineageEvent.job.toNumber(), chainCidText(lineageEvent.checkpoint)],
    [exported.id, kernel, trained.job, trained.cid]);
  assert.equal((await api.query.aivmRegistry.kernels(kernel)).unwrap().supersededBy.unwrap().toHex(), exported.id);
  const lineage = (await api.query.aivmRegistry.lineage(exported.id)).unwrap();
  assert.deepEqual([lineage.job.toNumber(), chainCidText(lineage.checkpoint), lineage.epochs.toNumber()], [trained.job, trained.cid, EPOCHS]);
  assert.equal((await api.query.marketplace.trainedModels(trained.job)).unwrap().version.unwrap().toHex(), exported.id);
  const again = await signAndInclude(api, registerTrainedKernelTx(api, trained.job, record), acct('//Ferdie'));
  assert.equal(errorName(api, again.dispatchError), 'aivmRegistry.AlreadyRegistered');
  // Anyone can check the lineage: `verity-worker lineage` reads it from the chain, fetches the
  // base archive and the final checkpoint by CID and re-exports them to the version's archive.
  const history = await workerLineage(node.ws, exported.id, join(dir, 'lineage'));
  assert.deepEqual(history.problems, []);
  assert.equal(history.reexported, exported.archive);
  assert.equal(history.base, kernel);
  assert.equal(history.job, trained.job);
  assert.equal(history.epochs.length, EPOCHS);
  assert.equal(history.epochs.at(-1).checkpoint, trained.cid);
  // The base kernel has no lineage: a clear error.
  await assert.rejects(run(workerBin(), ['lineage', '--node', node.ws, '--kernel', kernel, '--store', join(dir, 'lineage'), '--no-fetch']),
    (e) => /has no lineage on chain/.test(e.stderr));
  // An inference job on the new version: the daemons fetch its archive by CID, run it, agree on
  // the output in committee; the output is the one the buyer computed with the checkpoint.
  const deadline = (await head()) + 60;
  const inputs = [rawCid(readFileSync(testSet))];
  const posted = await send(api.tx.marketplace.postJob(exported.id, TRAIN_CLASS, { Inference: { inputs, committee: 3 } }, 360, 50n * MILLI, deadline), acct('//Ferdie'));
  const job = findEvent(posted, 'marketplace', 'JobPosted').data.job.toNumber();
  const end = await jobEnd(job);
  assert.equal(end.e.method, 'JobCompleted', `job ${job}: ${end.e.data.reason}`);
  const [verified] = events('marketplace', 'TaskVerified', (d) => tasksOf(job).some((t) => t.task.eq(d.task))).map(({ e }) => e.data);
  assert.ok(verified, 'the task verified');
  assert.equal(chainCidText(verified.result), trained.output, 'the output of the base kernel with the checkpoint');
  console.log(`  version ${exported.id} (archive ${exported.archive}) supersedes ${kernel}; job ${job}: ${trained.right}/360 right`);
  // The training job is paid and final: each member pruned its step chains (every epoch's chain
  // and its innerSteps + 1 states) from its store.
  for (const name of ['trainer-0', 'trainer-1', 'trainer-2']) {
    const line = await until(`${name} pruning its step chains`, () => workers[name].log().match(/step chains pruned task=\d+ chains=(\d+) states=(\d+)/), 120_000);
    assert.deepEqual([Number(line[1]), Number(line[2])], [EPOCHS, EPOCHS * (hyper.innerSteps + 1)], name);
  }
});

test('a member that stays dead is replaced by the chain: the new provider joins the group at the chain\'s checkpoint and the job ends with the same model', async () => {
  assert.ok(trained, 'the first training job completed');
  // A spare trainer, dearer than the three, so the chain gives it a task only when one moves.
  const spareUri = await funded('//Spare');
  const spare = acct(spareUri).address;
  const args = ['--class', String(TRAIN_CLASS), '--train'];
  await provider('trainer-3', spareUri, [...args, '--price', '0.006']);
  await until('the spare\'s offer', async () => (await api.query.marketplace.offers.entries())
    .some(([, o]) => o.unwrap().provider.toString() === spare));
  const dave = acct('//Dave').address;
  const logOf = (name) => workers[name].log();
  const base = Object.fromEntries(['trainer-0', 'trainer-1', 'trainer-2'].map((n) => [n, logOf(n).length]));
  const job = await postTraining();
  const [daveTask] = await until('Dave\'s task', () => {
    const t = tasksOf(job).find((a) => a.provider.toString() === dave);
    return t && [t.task.toNumber()];
  });
  // Dave's daemon is SIGKILLed once it has trained this job's first epoch, and stays down.
  const trainedHere = () => [...logOf('trainer-1').slice(base['trainer-1']).matchAll(/epoch trained.* epoch=(\d+)/g)].length;
  const deadline = Date.now() + 600_000;
  while (trainedHere() < 1) {
    if (Date.now() > deadline) throw new Error(`Dave trained no epoch of job ${job}\n${trace()}`);
    await sleep(50);
  }
  const [, listen] = [...logOf('trainer-1').matchAll(/provider starting.* addr=(\/ip4\/[\d.]+\/tcp\/\d+)/g)].at(-1);
  await workers['trainer-1'].stop('SIGKILL');
  assert.ok(trainedHere() < EPOCHS, 'killed mid-training');
  // His next heartbeat is missed: the chain slashes him and gives the task to the spare.
  await until('Dave\'s deadline missed', () => events('marketplace', 'DeadlineMissed', (d) => d.task.toNumber() === daveTask && d.provider.toString() === dave).length);
  await until('the task reassigned to the spare', () => events('marketplace', 'TaskAssigned', (d) => d.task.toNumber() === daveTask && d.provider.toString() === spare).length);
  const end = await jobEnd(job);
  assert.equal(end.e.method, 'JobCompleted', `job ${job}: ${end.e.data.reason}`);
  // The spare took the epochs that opened before it came from the chain, joined the group (which
  // waited for it) at the newest, and trained and committed every epoch after.
  const spareLog = logOf('trainer-3');
  const [, taken, takenAt] = spareLog.match(/taking over a training task.* epochs=(\d+) checkpoint=(\w+)/) ?? [];
  assert.ok(taken, `the spare took the task over\n${spareLog.split('\n').slice(-30).join('\n')}`);
  const [, resume, joinedAt] = spareLog.match(/group formed.* resume=(\d+) checkpoint=(\w+)/);
  assert.deepEqual([Number(resume), joinedAt], [Number(taken), takenAt], 'joined where the chain\'s epochs ended');
  const committed = events('proofOfCompute', 'EpochCommitted', (d) => d.job.toNumber() === job).map(({ e }) => e.data);
  if (Number(resume) > 0) {
    const chainAt = committed.find((d) => d.epoch.toNumber() === Number(resume) - 1);
    assert.equal(joinedAt, chainCidText(chainAt.checkpoint), 'the checkpoint the chain has for that epoch');
  }
  const byTask = committed.filter((d) => d.task.toNumber() === daveTask).map((d) => d.epoch.toNumber());
  for (let epoch = Number(resume); epoch < EPOCHS; epoch += 1) assert.ok(byTask.includes(epoch), `the spare committed epoch ${epoch}`);
  for (const name of ['trainer-0', 'trainer-2']) {
    assert.match(logOf(name).slice(base[name]), /the whole group answers again.* members=3/, `${name} waited for the group to fill`);
  }
  // Every task verified with the model of the uninterrupted job above: same data, settings and
  // shards, so the same bytes, a member replaced on the way.
  const tasks = tasksOf(job).map((t) => t.task.toNumber());
  const verified = events('marketplace', 'TaskVerified', (d) => tasks.includes(d.task.toNumber())).map(({ e }) => e.data);
  assert.equal(new Set(verified.map((v) => v.task.toNumber())).size, 3);
  assert.ok(verified.every((v) => chainCidText(v.result) === trained.cid), `the final checkpoint is ${trained.cid}`);
  console.log(`  Dave killed after ${trainedHere()} epoch(s); the spare took over ${taken} epoch(s) from the chain and joined at ${joinedAt}; final ${trained.cid}`);
  // Dave comes back for the next test (his old task is no longer his).
  await provider('trainer-1', '//Dave', [...args, '--price', '0.004', '--listen', listen]);
});

test('a member that commits made-up step digests and one that serves no step chain are caught by audits and slashed', async () => {
  const faulty = process.env.VERITY_WORKER_FAULTY;
  assert.ok(faulty, 'VERITY_WORKER_FAULTY is set (scripts/e2e.sh builds it)');
  // Charlie's daemon is replaced by a build that fakes its steps, Eve's by one that names no step
  // chain in its group status (her auditors cannot check any step of hers, retry until their last
  // try, then commit the unverifiable digest, which her revealed leaf cannot equal). More audits
  // per epoch make both catches all but certain: a member escapes each of 3 epochs' 8 draws with
  // probability (2/3)^8 < 4 %, all three < 0.01 %. The job sends bfloat16 in its AllReduce (half
  // the bytes): the honest member's steps still replay to its leaves, as with f32.
  const since = await head();
  await workers['trainer-0'].stop('SIGINT');
  await workers['trainer-2'].stop('SIGINT');
  const args = ['--class', String(TRAIN_CLASS), '--train', '--price', '0.004'];
  await provider('trainer-0-faulty', '//Charlie', [...args, '--fault-fake-steps'], faulty);
  await provider('trainer-2-withholding', '//Eve', [...args, '--fault-withhold-chains'], faulty);
  const poc = (await api.query.proofOfCompute.params()).unwrap().toJSON();
  await send(api.tx.sudo.sudo(api.tx.proofOfCompute.setParams({ ...poc, auditsPerEpoch: 8 })), acct('//Alice'));
  const charlie = acct('//Charlie').address;
  const eve = acct('//Eve').address;
  const job = await postTraining({ epochs: 3, settings: { ...hyper, wire: 'bf16' } });
  const ended = () => events('marketplace', 'JobCompleted', (d) => d.job.toNumber() === job)[0];
  const invalidated = (who) => events('proofOfCompute', 'EpochInvalidated', (d) => d.job.toNumber() === job && d.member.toString() === who)[0];
  const caught = {};
  for (const [name, who] of [['the faker', charlie], ['the withholder', eve]]) {
    caught[who] = await until(`${name} caught`, () => invalidated(who) || (ended() && { ended: true }));
    assert.ok(!caught[who].ended, `job ${job} completed and ${name} was not caught\n${trace()}`);
    const slash = await until(`${name} slashed`, () => events('proofOfCompute', 'Penalised', (d) => d.member.toString() === who)[0]);
    assert.ok(slash.e.data.reason.isWrongResult, `${name}: reason ${slash.e.data.reason}`);
    // The deposit behind the convicted commitment is burnt (finding 2).
    const forfeit = await until(`${name}'s epoch deposit forfeited`, () => events('proofOfCompute', 'EpochDepositForfeited', (d) => d.member.toString() === who)[0]);
    assert.equal(forfeit.e.data.amount.toBigInt(), api.consts.proofOfCompute.epochDeposit.toBigInt(), `${name}: the whole deposit`);
  }
  const slashed = events('proofOfCompute', 'Penalised', (d) => ![charlie, eve].includes(d.member.toString())).filter(({ block }) => block >= since);
  assert.equal(slashed.length, 0, 'no honest member slashed');
  // Eve's auditors said why: her status names no chain of the root she committed.
  const eveTask = caught[eve].e.data.task.toNumber();
  const auditorLogs = Object.entries(workers).filter(([name]) => name.startsWith('auditor-')).map(([, w]) => w.log()).join('\n');
  assert.match(auditorLogs, new RegExp(`committing the unverifiable digest .*task=${eveTask} .*reason=its status names no step chain`));
  const faultyTasks = [caught[charlie].e.data.task.toNumber(), eveTask];
  // The honest member's audited steps (drawn so far) pass.
  const honest = events('proofOfCompute', 'AuditsDrawn', (d) => d.job.toNumber() === job)
    .flatMap(({ e }) => e.data.audits.map((a) => a.map((x) => x.toNumber())))
    .filter(([, task]) => !faultyTasks.includes(task)).map(([a]) => a);
  await until('the honest member\'s audits passed', () => honest.every((a) => events('proofOfCompute', 'AuditPassed', (d) => d.audit.toNumber() === a).length));
  // The job's settings reached the members: their group formed with bfloat16 on the wire, and
  // every epoch's AllReduce sent bytes (half of f32's: worker/src/train.rs's bf16 test).
  for (const name of ['trainer-0-faulty', 'trainer-2-withholding']) {
    const text = workers[name].log();
    assert.match(text, /group formed.* wire=Bf16/, `${name} trains with bf16 on the wire`);
    assert.doesNotMatch(text, /group formed.* wire=F32/, name);
    const sent = [...text.matchAll(/epoch trained.* allreduce_bytes=(\d+)/g)].map((m) => Number(m[1]));
    assert.ok(sent.length > 0 && sent.every((b) => b > 0), `${name}: bytes sent each epoch ${sent}`);
  }
  assert.equal(events('proofOfCompute', 'EpochInvalidated', (d) => !faultyTasks.includes(d.task.toNumber()) && d.job.toNumber() === job).length, 0);
});
