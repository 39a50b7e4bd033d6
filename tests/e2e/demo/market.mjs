// The market part of the main job (scripts/demo.sh): Bob registers a kernel record, Charlie and
// Dave bond provider stake and offer CPU capacity at different prices, Ferdie posts an inference
// job, and the next block splits it over the offers, cheapest first. No worker runs yet (issue 7)
// and nothing verifies results yet (proof-of-compute), so the demo stops at the assignment.
// Usage: VERITY_WS=ws://… node demo/market.mjs
import { connect, rawCid, signAndInclude, waitForEvent } from '../lib.mjs';

const VER = 10n ** 12n;
const MILLI = VER / 1000n;
const { api, keyring } = await connect();
const [bob, charlie, dave, ferdie] = ['//Bob', '//Charlie', '//Dave', '//Ferdie'].map((u) => keyring.addFromUri(u));

async function send(tx, signer, section, method) {
  const r = await signAndInclude(api, tx, signer);
  if (r.dispatchError) throw new Error(`${section}.${method}: ${r.dispatchError}`);
  return r.events.find(({ event }) => event.section === section && event.method === method)?.event;
}

const archive = rawCid(new TextEncoder().encode('verity demo kernel: digits MLP 64-32-10'));
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

const deadline = (await api.rpc.chain.getHeader()).number.toNumber() + 60;
const assigned = waitForEvent(api, (e) => e.section === 'marketplace' && e.method === 'TaskAssigned', 60_000);
const posted = await send(api.tx.marketplace.postJob(
  kernel, 0, { Inference: { inputs: [rawCid(new TextEncoder().encode('digits test set'))], committee: 3 } },
  60_000, 50n * MILLI, deadline,
), ferdie, 'marketplace', 'JobPosted');
const job = posted.data.job.toNumber();
await assigned;
const tasks = (await api.query.marketplace.jobs(job)).unwrap().tasks.map((t) => t.toNumber());
const names = { [charlie.address]: 'Charlie', [dave.address]: 'Dave' };
const fmt = (x) => `${Number(x) / 1e12} VER`;

console.log(`  kernel           ${kernel.slice(0, 18)}… archive ${archive.slice(0, 20)}… (Bob, deposit ${fmt(registered.data.deposit.toBigInt())})`);
console.log(`  offers (cpu)     Charlie ${fmt(offers[0].price)}/WU, Dave ${fmt(offers[1].price)}/WU, 1 WU/s each, ${fmt(minProviderBond.toBigInt())} provider stake`);
console.log(`  job #${job}           Ferdie: 60,000 samples = ${posted.data.work} WU, max 0.05 VER/WU, ${fmt(posted.data.budget.toBigInt())} in escrow, deadline #${deadline}`);
for (const id of tasks) {
  const t = (await api.query.marketplace.tasks(id)).unwrap();
  console.log(`  task #${id}          ${names[t.provider.toString()]}: samples ${t.firstSample}..${t.firstSample.toBigInt() + t.samples.toBigInt()} at ${fmt(t.price.toBigInt())}/WU (cheapest first, up to capacity before the deadline)`);
}
console.log(`  price index cpu  ${fmt((await api.query.marketplace.priceIndex(0)).toBigInt())}/WU (base 0.01, moves with demand/supply)`);
await api.disconnect();
