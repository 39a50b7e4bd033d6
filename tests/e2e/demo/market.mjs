// The market and verification part of the main job (scripts/demo.sh): Bob registers a kernel
// record, Charlie and Dave bond provider stake and offer CPU capacity at different prices, Eve
// and Alice's stash register as verifiers, Ferdie posts an inference job, and the next block
// splits it over the offers, cheapest first. Each provider accepts and submits its share; for
// each share a committee (the provider and the two verifiers) commits and reveals the result
// digest; both are accepted, the job completes and everyone is paid. The outputs are stand-ins
// computed here: the worker that runs kernels is issue 7.
// Usage: VERITY_WS=ws://… node demo/market.mjs
import { randomAsU8a, sha256AsU8a } from '@polkadot/util-crypto';
import { u8aToHex } from '@polkadot/util';
import {
  commitment, connect, findEvent, rawCid, signAndInclude, waitForEvent,
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

// The archive CID of the digits kernel scripts/kernels.py exported (demo.sh passes it), so the
// kernel on chain names the archive the workers train.
const archive = process.env.VERITY_KERNEL_ARCHIVE
  ?? rawCid(new TextEncoder().encode('verity demo kernel: digits MLP 64-32-10'));
const registered = await send(api.tx.aivmRegistry.registerKernel(
  archive,
  { libtorch: '2.11.0', device: 'Cpu', dtype: 'F32', deterministicAlgorithms: true, tf32Disabled: true, seed: 42 },
  [{ dtype: 'F32', shape: [0, 64] }],
  [{ dtype: 'F32', shape: [0, 10] }],
  10_000_000_000n,
  30_000_000_000n,
  'ExactDigest',
  null,
), bob, 'aivmRegistry', 'KernelRegistered');
const kernel = registered.data.kernel.toHex();

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
const posted = await send(api.tx.marketplace.postJob(
  kernel, 0, { Inference: { inputs: [rawCid(new TextEncoder().encode('digits test set'))], committee: 3 } },
  60_000, 50n * MILLI, deadline,
), ferdie, 'marketplace', 'JobPosted');
const job = posted.data.job.toNumber();
await assigned;
const tasks = (await api.query.marketplace.jobs(job)).unwrap().tasks.map((t) => t.toNumber());
const names = { [charlie.address]: 'Charlie', [dave.address]: 'Dave', [eve.address]: 'Eve', [aliceStash.address]: 'Alice//stash' };
const signer = { [charlie.address]: charlie, [dave.address]: dave, [eve.address]: eve, [aliceStash.address]: aliceStash };
const fmt = (x) => `${Number(x) / 1e12} VER`;

console.log(`  kernel           ${kernel.slice(0, 18)}… archive ${archive.slice(0, 20)}… (Bob, deposit ${fmt(registered.data.deposit.toBigInt())})`);
console.log(`  offers (cpu)     Charlie ${fmt(offers[0].price)}/WU, Dave ${fmt(offers[1].price)}/WU, 1 WU/s each, ${fmt(minProviderBond.toBigInt())} provider stake`);
console.log(`  job #${job}           Ferdie: 60,000 samples = ${posted.data.work} WU, max 0.05 VER/WU, ${fmt(posted.data.budget.toBigInt())} in escrow, deadline #${deadline}`);
for (const id of tasks) {
  const t = (await api.query.marketplace.tasks(id)).unwrap();
  console.log(`  task #${id}          ${names[t.provider.toString()]}: samples ${t.firstSample}..${t.firstSample.toBigInt() + t.samples.toBigInt()} at ${fmt(t.price.toBigInt())}/WU (cheapest first, up to capacity before the deadline)`);
}
console.log(`  price index cpu  ${fmt((await api.query.marketplace.priceIndex(0)).toBigInt())}/WU (base 0.01, moves with demand/supply)`);

// Each provider accepts and submits its share; each submission opens a verification round.
const rounds = await Promise.all(tasks.map(async (id) => {
  const who = signer[(await api.query.marketplace.tasks(id)).unwrap().provider.toString()];
  await send(api.tx.marketplace.acceptTask(id), who, 'marketplace', 'TaskAccepted');
  const outputs = new TextEncoder().encode(`outputs of task ${id}`);
  const opened = await send(api.tx.marketplace.submitResult(id, rawCid(outputs)), who, 'proofOfCompute', 'CommitteeSelected');
  return { id, outputs, round: opened.data.round.toNumber(), members: opened.data.members.map((m) => m.toString()), commitEnd: opened.data.commitEnd.toNumber() };
}));
const completed = waitForEvent(api, (e) => e.section === 'marketplace' && e.method === 'JobCompleted' && e.data.job.toNumber() === job, 300_000);
// Every member re-runs the task (here: the same stand-in outputs), commits, then reveals.
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
  return [m, () => send(api.tx.proofOfCompute.commit(r.round, commitment(r.round, sha256AsU8a(r.outputs), nonce, signer[m])), signer[m], 'proofOfCompute', 'Committed')];
})));
const commitEnd = Math.max(...rounds.map((r) => r.commitEnd));
while ((await api.rpc.chain.getHeader()).number.toNumber() <= commitEnd) await new Promise((r) => setTimeout(r, 1_000));
await bySigner(rounds.flatMap((r) => r.members.map((m) => [m, () => send(
  api.tx.proofOfCompute.reveal(r.round, u8aToHex(sha256AsU8a(r.outputs)), rawCid(r.outputs), u8aToHex(nonces.get(`${r.round}/${m}`)), []),
  signer[m], 'proofOfCompute', 'Revealed',
)])));
const done = await completed;
for (const r of rounds) {
  console.log(`  round #${r.round}         task #${r.id}: committee ${r.members.map((m) => names[m]).join(', ')} committed, revealed, agreed`);
}
console.log(`  job #${job} paid      providers ${fmt(done.data.paid.toBigInt())}, protocol fee ${fmt(done.data.fee.toBigInt())}, verifiers ${fmt(done.data.verifiers.toBigInt())}, refund ${fmt(done.data.refund.toBigInt())}`);
await api.disconnect();
