// The market and verification part of the main job (scripts/demo.sh): Bob registers the digits
// kernel's record exactly as its manifest (kernel.json) says — checked against what
// verity-worker reads from the same manifest — Charlie and Dave bond provider stake and offer CPU
// capacity at different prices, Eve and Alice's stash register as verifiers, Ferdie posts an
// inference job over the kernel's test set, and the next block gives it to the cheapest offer.
// The provider accepts and submits; a committee (the provider and the two verifiers) commits and
// reveals the result digest; it is accepted, the job completes and everyone is paid. The outputs
// are real: every member runs the kernel with verity-worker (libtorch) on the input and reveals
// the digest the worker computed by the kernel's rule; this script still signs and sends their
// transactions (the provider daemon that does that itself is the next step).
// Usage: VERITY_KERNEL_DIR=… VERITY_WORKER=… VERITY_WS=ws://… node demo/market.mjs
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomAsU8a } from '@polkadot/util-crypto';
import { hexToU8a, u8aToHex } from '@polkadot/util';
import {
  commitment, connect, findEvent, rawCid, readManifest, registerKernelTx, signAndInclude,
  waitForEvent, workerInfer, workerKernel,
} from '../lib.mjs';

const VER = 10n ** 12n;
const MILLI = VER / 1000n;
const { api, keyring } = await connect();
const [bob, charlie, dave, eve, aliceStash, ferdie] = ['//Bob', '//Charlie', '//Dave', '//Eve', '//Alice//stash', '//Ferdie']
  .map((u) => keyring.addFromUri(u));

async function send(tx, signer, section, method) {
  const r = await signAndInclude(api, tx, signer);
  if (r.dispatchError) throw new Error(`${section}.${method}: ${r.dispatchError}`);
  return findEvent(r.events, section, method);
}

// The digits kernel scripts/kernels.py exported (demo.sh passes its directory): its manifest's
// record is registered as it is, so the kernel on chain is the archive the workers train.
const kernelDir = process.env.VERITY_KERNEL_DIR;
if (!kernelDir) throw new Error('VERITY_KERNEL_DIR is required');
const inputFile = join(kernelDir, 'test.safetensors');
const input = rawCid(readFileSync(inputFile));
const scratch = mkdtempSync(join(tmpdir(), 'verity-demo-stores-'));
const { record } = readManifest(kernelDir);
const registered = await send(registerKernelTx(api, record), bob, 'aivmRegistry', 'KernelRegistered');
const kernel = registered.data.kernel.toHex();
const archive = record.archive;
// What the chain stores is what the worker reads from the manifest, byte for byte.
const worker = workerKernel(kernelDir);
assert.equal(kernel, worker.id, 'the registered kernel id is the manifest record\'s');
assert.equal((await api.query.aivmRegistry.kernels(kernel)).unwrap().spec.toHex(), worker.encoded);

const { minProviderBond } = (await api.query.stakingGovernance.parameters()).unwrap();
const offers = [];
for (const [who, price] of [[charlie, 20n * MILLI], [dave, 12n * MILLI]]) {
  await send(api.tx.stakingGovernance.bond(minProviderBond), who, 'stakingGovernance', 'Bonded');
  const ev = await send(api.tx.marketplace.publishOffer(0, 1_000, { Fixed: price }, 1, 1_000_000_000), who, 'marketplace', 'OfferPublished');
  offers.push({ id: ev.data.offer.toNumber(), who, price });
}

for (const v of [eve, aliceStash]) {
  await send(api.tx.stakingGovernance.bond(minProviderBond), v, 'stakingGovernance', 'Bonded');
  await send(api.tx.proofOfCompute.registerVerifier(), v, 'proofOfCompute', 'VerifierRegistered');
}

const deadline = (await api.rpc.chain.getHeader()).number.toNumber() + 60;
const assigned = waitForEvent(api, (e) => e.section === 'marketplace' && e.method === 'TaskAssigned', 60_000);
// The kernel's held-out set: 360 samples of its declared 18,944 FLOPs each, which round up to
// one work unit (10^12 FLOPs), so the whole job goes to the cheapest offer.
const samples = 360;
const posted = await send(api.tx.marketplace.postJob(
  kernel, 0, { Inference: { inputs: [input], committee: 3 } },
  samples, 50n * MILLI, deadline,
), ferdie, 'marketplace', 'JobPosted');
const job = posted.data.job.toNumber();
await assigned;
const tasks = (await api.query.marketplace.jobs(job)).unwrap().tasks.map((t) => t.toNumber());
const names = { [charlie.address]: 'Charlie', [dave.address]: 'Dave', [eve.address]: 'Eve', [aliceStash.address]: 'Alice//stash' };
const signer = { [charlie.address]: charlie, [dave.address]: dave, [eve.address]: eve, [aliceStash.address]: aliceStash };
const fmt = (x) => `${Number(x) / 1e12} VER`;

console.log(`  kernel           ${kernel.slice(0, 18)}… archive ${archive.slice(0, 20)}… (Bob, deposit ${fmt(registered.data.deposit.toBigInt())}); stored record = kernel.json's, byte for byte`);
console.log(`                   ${record.inference_flops} FLOPs/sample, seed ${record.environment.seed}, rule ${JSON.stringify(record.rule)}`);
console.log(`  offers (cpu)     Charlie ${fmt(offers[0].price)}/WU, Dave ${fmt(offers[1].price)}/WU, 1 WU/s each, ${fmt(minProviderBond.toBigInt())} provider stake`);
console.log(`  job #${job}           Ferdie: ${samples} samples (the test set ${input.slice(0, 16)}…) = ${posted.data.work} WU, max 0.05 VER/WU, ${fmt(posted.data.budget.toBigInt())} in escrow, deadline #${deadline}`);
for (const id of tasks) {
  const t = (await api.query.marketplace.tasks(id)).unwrap();
  console.log(`  task #${id}          ${names[t.provider.toString()]}: samples ${t.firstSample}..${t.firstSample.toBigInt() + t.samples.toBigInt()} at ${fmt(t.price.toBigInt())}/WU (cheapest offer first)`);
}
console.log(`  price index cpu  ${fmt((await api.query.marketplace.priceIndex(0)).toBigInt())}/WU (base 0.01, moves with demand/supply)`);

// Each provider accepts, runs the kernel on the input with verity-worker (real libtorch) and
// submits the output's CID; each submission opens a verification round.
const runs = new Map();
const runKernel = (member, round) => workerInfer(kernelDir, inputFile, join(scratch, `${names[member]}-${round}`));
const rounds = await Promise.all(tasks.map(async (id) => {
  const provider = (await api.query.marketplace.tasks(id)).unwrap().provider.toString();
  const who = signer[provider];
  await send(api.tx.marketplace.acceptTask(id), who, 'marketplace', 'TaskAccepted');
  const result = await runKernel(provider, `task${id}`);
  const opened = await send(api.tx.marketplace.submitResult(id, result.output_cid), who, 'proofOfCompute', 'CommitteeSelected');
  const round = opened.data.round.toNumber();
  runs.set(`${round}/${provider}`, result);
  return { id, round, members: opened.data.members.map((m) => m.toString()), commitEnd: opened.data.commitEnd.toNumber() };
}));
const completed = waitForEvent(api, (e) => e.section === 'marketplace' && e.method === 'JobCompleted' && e.data.job.toNumber() === job, 300_000);
// Every other member re-runs the kernel itself; each commits to its own digest, then reveals.
await Promise.all(rounds.flatMap((r) => r.members.filter((m) => !runs.has(`${r.round}/${m}`)).map(async (m) => {
  runs.set(`${r.round}/${m}`, await runKernel(m, `round${r.round}`));
})));
const nonces = new Map();
/** Runs `[signer, thunk]` pairs: one signer's in order (nonces), different signers at once. */
async function bySigner(jobs) {
  const queues = new Map();
  for (const [who, run] of jobs) queues.set(who, [...(queues.get(who) || []), run]);
  await Promise.all([...queues.values()].map(async (q) => { for (const run of q) await run(); }));
}
await bySigner(rounds.flatMap((r) => r.members.map((m) => {
  const nonce = randomAsU8a(32);
  nonces.set(`${r.round}/${m}`, nonce);
  const { digest } = runs.get(`${r.round}/${m}`);
  return [m, () => send(api.tx.proofOfCompute.commit(r.round, commitment(r.round, hexToU8a(digest), nonce, signer[m])), signer[m], 'proofOfCompute', 'Committed')];
})));
const commitEnd = Math.max(...rounds.map((r) => r.commitEnd));
while ((await api.rpc.chain.getHeader()).number.toNumber() <= commitEnd) await new Promise((r) => setTimeout(r, 1_000));
await bySigner(rounds.flatMap((r) => r.members.map((m) => {
  const run = runs.get(`${r.round}/${m}`);
  return [m, () => send(
    api.tx.proofOfCompute.reveal(r.round, run.digest, run.output_cid, u8aToHex(nonces.get(`${r.round}/${m}`)), run.summary),
    signer[m], 'proofOfCompute', 'Revealed',
  )];
})));
const done = await completed;
for (const r of rounds) {
  const { digest, output_cid: out } = runs.get(`${r.round}/${r.members[0]}`);
  console.log(`  round #${r.round}         task #${r.id}: ${r.members.map((m) => names[m]).join(', ')} each ran the kernel (verity-worker, libtorch),`);
  console.log(`                   committed and revealed digest ${digest.slice(0, 18)}… of output ${out.slice(0, 20)}…; the chain agreed`);
}
console.log(`  job #${job} paid      providers ${fmt(done.data.paid.toBigInt())}, protocol fee ${fmt(done.data.fee.toBigInt())}, verifiers ${fmt(done.data.verifiers.toBigInt())}, refund ${fmt(done.data.refund.toBigInt())}`);
rmSync(scratch, { recursive: true, force: true });
await api.disconnect();
