// The training part of the main job (scripts/demo.sh), from the buyer's side only: the provider
// daemons (`verity-worker provide --train`, started by demo.sh) do everything else. Bob, the
// digits kernel's owner, serves its archive and training set and posts a training job (DiLoCo,
// a group of 3); the chain forms the group from the cheapest offers, the members train together
// (ring AllReduce over libp2p), commit every epoch's checkpoint CID and step-chain root, answer the
// audits the chain draws, and the daemons outside the group replay each audited step alone from
// the member's step chain; the final checkpoint passes the training verification round and the
// members are paid. Bob fetches the final checkpoint by CID, measures it on the held-out test
// set, exports it as a new version of his kernel (`verity-worker export`) and registers it as the job's model (`registerTrainedKernel`:
// the chain keeps its lineage — base kernel, job, final checkpoint, every epoch); Ferdie posts an inference
// job on the new version and scores the output the daemons computed.
// The dev chain's verification windows are shortened by sudo (3 blocks) so the job takes minutes.
// Usage: VERITY_KERNEL_DIR=… VERITY_WORKER=… VERITY_WS=ws://… VERITY_PROVIDERS=n node demo/train.mjs
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  chainCidText, connect, errorName, findEvent, rawCid, signAndFinalize, signAndInclude, registerTrainedKernelTx, VER, workerKernel, workerInfer, workerLineage, WS,
} from '../lib.mjs';
import {
  accuracy, DIGITS_HYPER, endpointAddr, exportVersion, fetchBlob, putBlob, readSafetensors, startServe, trainingJob,
} from '../providers.mjs';

const EPOCHS = 5;
const { api, keyring } = await connect();
const [alice, bob, ferdie] = ['//Alice', '//Bob', '//Ferdie'].map((u) => keyring.addFromUri(u));
const fmt = (x) => `${Number(x) / 1e12} VER`;
const providers = Number(process.env.VERITY_PROVIDERS || 6);

async function send(tx, signer) {
  const r = await signAndInclude(api, tx, signer);
  if (r.dispatchError) throw new Error(errorName(api, r.dispatchError));
  return r;
}

const kernelDir = process.env.VERITY_KERNEL_DIR;
if (!kernelDir) throw new Error('VERITY_KERNEL_DIR is required');
const trainSet = join(kernelDir, 'train.safetensors');
const testSet = join(kernelDir, 'test.safetensors');
const labels = readSafetensors(readFileSync(testSet)).y;
const scratch = mkdtempSync(join(tmpdir(), 'verity-demo-trainer-'));
const served = await startServe(join(scratch, 'served'), [join(kernelDir, 'kernel.pt'), trainSet, testSet]);
const events = [];
let stopEvents = () => {};
try {
  // Every marketplace and proof-of-compute event, with the block it is in.
  let queue = Promise.resolve();
  stopEvents = await api.rpc.chain.subscribeNewHeads((h) => {
    queue = queue.then(async () => {
      for (const { event } of await (await api.at(h.hash)).query.system.events()) {
        if (['marketplace', 'proofOfCompute', 'aivmRegistry'].includes(event.section)) events.push({ event, hash: h.hash, at: Date.now() });
      }
    }).catch(() => {});
  });
  const find = (section, method, pred = () => true) => events.filter(({ event: e }) => e.section === section && e.method === method && pred(e.data));
  const waitEnd = async (job, minutes) => {
    const end = Date.now() + minutes * 60_000;
    const over = () => find('marketplace', 'JobCompleted', (d) => d.job.toNumber() === job)[0]
      || find('marketplace', 'JobFailed', (d) => d.job.toNumber() === job)[0];
    while (!over() && Date.now() < end) await new Promise((r) => setTimeout(r, 500));
    const e = over();
    assert.ok(e, `job ${job} did not end in ${minutes} minutes`);
    assert.equal(e.event.method, 'JobCompleted', `job ${job} failed: ${e.event.data.reason}`);
    return e;
  };

  // Dev chain: 3-block windows for committees, audits and epochs (defaults are 10).
  const poc = (await api.query.proofOfCompute.params()).unwrap().toJSON();
  await send(api.tx.sudo.sudo(api.tx.proofOfCompute.setParams({ ...poc, commitWindow: 3, revealWindow: 3, epochWindow: 3 })), alice);
  const market = (await api.query.marketplace.params()).unwrap().toJSON();
  await send(api.tx.sudo.sudo(api.tx.marketplace.setParams({ ...market, acceptWindow: 3 })), alice);
  const kernel = workerKernel(kernelDir, bob.address).id;
  assert.ok((await api.query.aivmRegistry.kernels(kernel)).isSome, 'the market step registered the kernel');
  for (const who of [bob, ferdie]) await send(api.tx.marketplace.setEndpoint(served.endpoint.peer, served.endpoint.addrs), who);
  let verifiers = [];
  for (let i = 0; i < 120 && verifiers.length < providers; i += 1) {
    verifiers = await api.query.proofOfCompute.verifiers();
    if (verifiers.length < providers) await new Promise((r) => setTimeout(r, 1000));
  }
  assert.ok(verifiers.length >= providers, `${verifiers.length} of ${providers} verifiers`);

  const names = Object.fromEntries(['//Alice//stash', '//Bob//stash', '//Charlie//stash', '//Bob', '//Charlie', '//Dave', '//Eve', '//Ferdie']
    .map((u) => [keyring.addFromUri(u).address, u.slice(2)]));
  const name = (a) => names[a.toString()] || a.toString().slice(0, 8);

  // Bob posts the training job.
  const { kind, samples } = trainingJob(trainSet, DIGITS_HYPER, EPOCHS);
  const head = (await api.rpc.chain.getHeader()).number.toNumber();
  const t0 = Date.now();
  const posted = findEvent((await send(api.tx.marketplace.postJob(kernel, 0, kind, samples, 50n * VER / 1000n, head + 400), bob)).events, 'marketplace', 'JobPosted');
  const job = posted.data.job.toNumber();
  const done = await waitEnd(job, 20);
  const seconds = ((done.at - t0) / 1000).toFixed(0);
  const tasks = find('marketplace', 'TaskAssigned', (d) => d.job.toNumber() === job).map(({ event: e }) => e.data);
  assert.equal(tasks.length, 3);

  console.log(`  job #${job}           Bob: train the digits kernel, ${EPOCHS} epochs of DiLoCo (${DIGITS_HYPER.innerSteps} inner steps of ${DIGITS_HYPER.batch} samples), a group of 3; ${fmt(posted.data.budget.toBigInt())} in escrow`);
  console.log(`  group            ${tasks.map((t) => `${name(t.provider)} (task #${t.task}, samples ${t.firstSample}..${Number(t.firstSample) + Number(t.samples)})`).join(', ')}`);
  // Every epoch's checkpoint CID and each member's step-chain root, read from chain storage: the
  // job's verified history, kept after the job (`proofOfCompute.epochHistory`).
  for (let epoch = 0; epoch < EPOCHS; epoch += 1) {
    const record = (await api.query.proofOfCompute.epochHistory(job, epoch)).unwrap();
    assert.equal(record.commits.length, 3, `epoch ${epoch}: every member committed`);
    const cids = new Set(record.commits.map(([, c]) => chainCidText(c.checkpoint)));
    assert.equal(cids.size, 1, `epoch ${epoch}: one checkpoint`);
    assert.ok(record.audits.toNumber() >= 1 && record.passed.eq(record.audits), `epoch ${epoch}: every audit passed`);
    console.log(`  epoch ${epoch}          checkpoint ${[...cids][0]}, roots ${record.commits.map(([, c]) => c.root.toHex().slice(0, 10)).join(' ')}…; ${record.audits} audited steps each replayed alone from its state, passed`);
  }
  assert.equal(find('proofOfCompute', 'Penalised').length, 0, 'nobody slashed');
  const verified = find('marketplace', 'TaskVerified', (d) => tasks.some((t) => t.task.eq(d.task))).map(({ event: e }) => e.data);
  assert.equal(verified.length, 3);
  const finalCid = chainCidText(verified[0].result);
  console.log(`  result           final checkpoint ${finalCid}: the training verification round re-ran it on each member's shard; paid in ${seconds} s: providers ${fmt(done.event.data.paid.toBigInt())}, verifiers ${fmt(done.event.data.verifiers.toBigInt())}`);

  // Bob fetches it by CID, measures it, exports and registers the new version.
  const endpoint = (await api.query.marketplace.endpoints(tasks[0].provider)).unwrap();
  const file = await fetchBlob(join(scratch, 'fetched'), endpointAddr(endpoint), finalCid);
  const exported = await exportVersion(kernelDir, file, join(scratch, 'trained'), bob.address);
  const local = await workerInfer(join(scratch, 'trained'), testSet, join(scratch, 'eval'));
  const measured = accuracy(readSafetensors(readFileSync(join(scratch, 'eval', local.output_cid))).output, labels);
  assert.ok(measured.right / measured.n >= 0.95, `accuracy ${measured.right}/${measured.n}`);
  const untrained = await workerInfer(kernelDir, testSet, join(scratch, 'eval'));
  const before = accuracy(readSafetensors(readFileSync(join(scratch, 'eval', untrained.output_cid))).output, labels);
  await putBlob(join(scratch, 'served'), join(scratch, 'trained', 'kernel.pt'));
  // The trained version's archive for the serving step (demo.sh starts Bob's inference server).
  if (process.env.VERITY_DEMO_OUT) await putBlob(join(process.env.VERITY_DEMO_OUT, 'store'), join(scratch, 'trained', 'kernel.pt'));
  // Finalized: `verity-worker lineage` below reads settled history, the finalized state.
  const finalized = await signAndFinalize(api, registerTrainedKernelTx(api, job, exported.record), bob);
  if (finalized.dispatchError) throw new Error(errorName(api, finalized.dispatchError));
  const registration = finalized.events;
  const registered = findEvent(registration, 'aivmRegistry', 'KernelRegistered');
  assert.equal(registered.data.kernel.toHex(), exported.id);
  findEvent(registration, 'aivmRegistry', 'KernelTrained');
  const lineage = (await api.query.aivmRegistry.lineage(exported.id)).unwrap();
  assert.equal(chainCidText(lineage.checkpoint), finalCid);
  console.log(`  new version      ${exported.id.slice(0, 18)}… archive ${exported.archive.slice(0, 20)}… = the kernel's code with the final checkpoint (verity-worker export; re-exporting the checkpoint gives this CID again)`);
  const checked = await workerLineage(WS, exported.id, join(scratch, 'lineage'));
  assert.deepEqual(checked.problems, []);
  console.log(`  lineage          aivmRegistry.lineage: trained by job #${lineage.job} to checkpoint ${chainCidText(lineage.checkpoint).slice(0, 20)}… in ${lineage.epochs} epochs, each in proofOfCompute.epochHistory`);
  console.log(`                   verity-worker lineage: every epoch's audits passed, each started where the last ended; the base archive and the checkpoint fetched by CID re-export to ${checked.reexported.slice(0, 20)}…, the version's archive`);
  console.log(`                   registered by Bob, supersedes ${kernel.slice(0, 18)}…; test accuracy ${(100 * measured.right / measured.n).toFixed(1)}% (${measured.right}/${measured.n}); the base kernel ${(100 * before.right / before.n).toFixed(1)}%`);

  // Ferdie runs the new version on chain.
  const inputs = [rawCid(readFileSync(testSet))];
  const head2 = (await api.rpc.chain.getHeader()).number.toNumber();
  const inference = findEvent((await send(api.tx.marketplace.postJob(exported.id, 0, { Inference: { inputs, committee: 3 } }, labels.shape[0], 50n * VER / 1000n, head2 + 100), ferdie)).events, 'marketplace', 'JobPosted');
  const ijob = inference.data.job.toNumber();
  await waitEnd(ijob, 5);
  const itask = find('marketplace', 'TaskAssigned', (d) => d.job.toNumber() === ijob)[0].event.data;
  const iresult = chainCidText(find('marketplace', 'TaskVerified', (d) => d.task.eq(itask.task))[0].event.data.result);
  const out = await fetchBlob(join(scratch, 'fetched'), endpointAddr((await api.query.marketplace.endpoints(itask.provider)).unwrap()), iresult);
  const scored = accuracy(readSafetensors(readFileSync(out)).output, labels);
  assert.equal(scored.right, measured.right, 'the daemons computed what Bob measured');
  if (process.env.VERITY_DEMO_OUT) writeFileSync(join(process.env.VERITY_DEMO_OUT, 'trained.json'), JSON.stringify({ kernel: exported.id }));
  console.log(`  job #${ijob}           Ferdie: inference with the new version, run by ${name(itask.provider)} and verified in committee: ${scored.right}/${scored.n} right`);
} finally {
  stopEvents();
  served.proc.kill();
  rmSync(scratch, { recursive: true, force: true });
  await api.disconnect();
}
