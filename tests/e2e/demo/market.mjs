// The market and verification part of the main job (scripts/demo.sh), from the buyer's side
// only: the provider daemons (`verity-worker provide`, started by demo.sh with their own keys)
// do everything else. Bob registers the digits kernel's record exactly as its manifest says and
// Ferdie, the buyer, serves the archive and the test set with `verity-worker serve`, publishes
// where (an endpoint on chain) and posts an inference job with a committee of 3 verifiers. The
// chain gives the job to the cheapest offer; that provider accepts, fetches the blobs by CID, runs
// the kernel on libtorch and submits the output's CID; two blocks later the chain draws three
// other providers as verifiers; they re-run it, and all four commit and reveal; the verifiers'
// verdict accepts the provider's result and the chain pays. Ferdie then fetches the output
// by its CID from the provider and scores it against the test labels.
// Usage: VERITY_KERNEL_DIR=… VERITY_WORKER=… VERITY_WS=ws://… VERITY_PROVIDERS=n node demo/market.mjs
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  chainCidText, connect, findEvent, rawCid, readManifest, registerKernelTx, signAndInclude, workerKernel,
} from '../lib.mjs';
import { accuracy, endpointAddr, fetchBlob, readSafetensors, startServe } from '../providers.mjs';

const VER = 10n ** 12n;
const { api, keyring } = await connect();
const [bob, ferdie] = ['//Bob', '//Ferdie'].map((u) => keyring.addFromUri(u));
const fmt = (x) => `${Number(x) / 1e12} VER`;
const providers = Number(process.env.VERITY_PROVIDERS || 4);

async function send(tx, signer, section, method) {
  const r = await signAndInclude(api, tx, signer);
  if (r.dispatchError) throw new Error(`${section}.${method}: ${r.dispatchError}`);
  return findEvent(r.events, section, method);
}

const kernelDir = process.env.VERITY_KERNEL_DIR;
if (!kernelDir) throw new Error('VERITY_KERNEL_DIR is required');
const testSet = join(kernelDir, 'test.safetensors');
const scratch = mkdtempSync(join(tmpdir(), 'verity-demo-buyer-'));
// Ferdie's blob server: the archive and the inputs, found by the providers through its endpoint.
const served = await startServe(join(scratch, 'served'), [join(kernelDir, 'kernel.pt'), testSet]);
try {
  const { record } = readManifest(kernelDir);
  const registered = await send(registerKernelTx(api, record), bob, 'aivmRegistry', 'KernelRegistered');
  const kernel = registered.data.kernel.toHex();
  const worker = workerKernel(kernelDir, bob.address);
  assert.equal(kernel, worker.id, 'the registered kernel id is the manifest record\'s');
  assert.equal((await api.query.aivmRegistry.kernels(kernel)).unwrap().spec.toHex(), worker.encoded);
  for (const who of [bob, ferdie]) {
    await send(api.tx.marketplace.setEndpoint(served.endpoint.peer, served.endpoint.addrs), who, 'marketplace', 'EndpointSet');
  }

  // The providers' offers, published by the daemons themselves.
  let offers = [];
  for (let i = 0; i < 300 && offers.length < providers; i += 1) {
    offers = (await api.query.marketplace.offers.entries()).map(([, o]) => o.unwrap());
    if (offers.length < providers) await new Promise((r) => setTimeout(r, 1000));
  }
  assert.ok(offers.length >= providers, `only ${offers.length} of ${providers} providers published an offer`);
  const verifiers = (await api.query.proofOfCompute.verifiers()).map((v) => v.toString());

  const samples = readSafetensors(readFileSync(testSet)).y.shape[0];
  const events = [];
  const stopEvents = await api.query.system.events((records) => {
    for (const { event } of records) {
      if (['marketplace', 'proofOfCompute'].includes(event.section)) events.push({ event, at: Date.now() });
    }
  });
  const header = await api.rpc.chain.getHeader();
  const deadline = header.number.toNumber() + 100;
  const t0 = Date.now();
  const posted = await send(api.tx.marketplace.postJob(
    kernel, 0, { Inference: { inputs: [rawCid(readFileSync(testSet))], committee: 3 } },
    samples, 50n * VER / 1000n, deadline,
  ), ferdie, 'marketplace', 'JobPosted');
  const job = posted.data.job.toNumber();
  const find = (section, method, pred = () => true) => events.find(({ event: e }) => e.section === section && e.method === method && pred(e));
  for (let i = 0; i < 600 && !find('marketplace', 'JobCompleted', (e) => e.data.job.toNumber() === job)
    && !find('marketplace', 'JobFailed', (e) => e.data.job.toNumber() === job); i += 1) {
    await new Promise((r) => setTimeout(r, 500));
  }
  stopEvents();
  const failed = find('marketplace', 'JobFailed', (e) => e.data.job.toNumber() === job);
  assert.ok(!failed, `job ${job} failed: ${failed?.event.data.reason}`);
  const done = find('marketplace', 'JobCompleted', (e) => e.data.job.toNumber() === job);
  assert.ok(done, `job ${job} did not complete in 5 minutes`);
  const seconds = ((done.at - t0) / 1000).toFixed(0);

  const names = Object.fromEntries(['//Alice//stash', '//Bob//stash', '//Charlie//stash', '//Bob', '//Charlie', '//Dave', '//Eve', '//Ferdie']
    .map((u) => [keyring.addFromUri(u).address, u.slice(2)]));
  const name = (a) => names[a.toString()] || a.toString().slice(0, 8);
  console.log(`  kernel           ${kernel.slice(0, 18)}… archive ${record.archive.slice(0, 20)}… (Bob); stored record = kernel.json's, byte for byte`);
  console.log(`  providers        ${offers.map((o) => `${name(o.provider)} ${fmt(o.price.asFixed.toBigInt())}/WU ${o.capacity} mWU/s`).join(', ')}`);
  console.log(`                   (verity-worker provide: capacity measured by bench-hw, stake bonded, offer, verifier and endpoint published by each daemon)`);
  console.log(`  job #${job}           Ferdie: ${samples} samples of the test set = ${posted.data.work} WU, ${fmt(posted.data.budget.toBigInt())} in escrow; inputs served by Ferdie's verity-worker serve`);
  const tasks = events.filter(({ event: e }) => e.section === 'marketplace' && e.method === 'TaskAssigned' && e.data.job.toNumber() === job);
  for (const { event: t } of tasks) {
    const id = t.data.task.toNumber();
    const verified = find('marketplace', 'TaskVerified', (e) => e.data.task.toNumber() === id);
    const accepted = find('proofOfCompute', 'ResultAccepted', (e) => e.data.subject.isTask && e.data.subject.asTask.toNumber() === id);
    const committee = find('proofOfCompute', 'CommitteeSelected', (e) => e.data.subject.isTask && e.data.subject.asTask.toNumber() === id);
    console.log(`  task #${id}          ${name(t.data.provider)} at ${fmt(t.data.price.toBigInt())}/WU: accepted, fetched the kernel and inputs by CID, ran it (libtorch), submitted`);
    console.log(`                   committee ${committee.event.data.members.map(name).join(', ')} (drawn 2 blocks after the submission): each re-ran it, committed, revealed; agreed: ${accepted.event.data.agreeing.map(name).join(', ')}`);
    // The buyer fetches the accepted output by CID from the provider's endpoint and scores it.
    const cid = chainCidText(verified.event.data.result);
    const out = await api.query.marketplace.endpoints(t.data.provider);
    const file = await fetchBlob(join(scratch, 'fetched'), endpointAddr(out.unwrap()), cid);
    const logits = readSafetensors(readFileSync(file)).output;
    const labels = readSafetensors(readFileSync(testSet)).y;
    const first = Number(t.data.firstSample);
    const n = Number(t.data.samples);
    const sliced = { dtype: 'I64', shape: [n], data: labels.data.subarray(first, first + n) };
    const { right } = accuracy(logits, sliced);
    console.log(`                   output ${cid.slice(0, 20)}… fetched by Ferdie, checked against its CID: accuracy ${(100 * right / n).toFixed(1)}% (${right}/${n}; the archive as exported, untrained: chance is 10%)`);
  }
  console.log(`  job #${job} paid      in ${seconds} s: providers ${fmt(done.event.data.paid.toBigInt())}, protocol fee ${fmt(done.event.data.fee.toBigInt())}, verifiers ${fmt(done.event.data.verifiers.toBigInt())}, refund to Ferdie ${fmt(done.event.data.refund.toBigInt())}`);
  console.log(`  verifiers        ${verifiers.map(name).join(', ')} registered; no JavaScript signed for any of them`);
} finally {
  served.proc.kill();
  rmSync(scratch, { recursive: true, force: true });
  await api.disconnect();
}
