// The market from polkadot.js on the dev chain, with no custom types: Bob registers a kernel (its
// TorchScript archive named by a text CID), Charlie and Dave bond provider stake and publish CPU
// offers, Ferdie posts an inference job whose budget is held in escrow. The next block's
// allocation gives the work to the cheaper offer (Dave) up to its capacity before the deadline
// and the rest to Charlie. Dave accepts and submits a result; Charlie never accepts, so after the
// accept window it is penalised and, with nobody else to take its share, the job fails and
// Ferdie gets the whole budget back. Bad input — a malformed CID, an unknown or deprecated
// kernel, a budget above the free balance, a zero or oversize job, an offer without provider
// stake — fails with a named error and changes nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  connect, ensureVerifiers, expectFailure, expectSuccess, findEvent, rawCid, VER, waitForEvent,
} from './lib.mjs';

let api;
let keyring;
let bob;
let charlie;
let dave;
let eve;
let ferdie;

const MILLI = VER / 1000n;
const FWD_FLOPS = 10_000_000_000n; // 100 samples = 1 WU

before(async () => {
  const c = await connect();
  api = c.api;
  keyring = c.keyring;
  [bob, charlie, dave, eve, ferdie] = ['//Bob', '//Charlie', '//Dave', '//Eve', '//Ferdie']
    .map((uri) => c.keyring.addFromUri(uri));
});

after(async () => {
  await api?.disconnect();
});

const ok = (tx, signer) => expectSuccess(api, tx, signer);
const fails = (tx, signer, expected) => expectFailure(api, tx, signer, expected);

const escrow = async (who) => (await api.query.balances.holds(who.address))
  .filter((h) => h.id.isMarketplace && h.id.asMarketplace.isJobEscrow)
  .reduce((sum, h) => sum + h.amount.toBigInt(), 0n);

const environment = {
  libtorch: '2.11.0',
  device: 'Cpu',
  dtype: 'F32',
  deterministicAlgorithms: true,
  tf32Disabled: true,
  seed: 42,
};

const registerKernel = (archive, seed = 42) => api.tx.aivmRegistry.registerKernel(
  archive,
  { ...environment, seed },
  [{ dtype: 'F32', shape: [0, 64] }],
  [{ dtype: 'F32', shape: [0, 10] }],
  FWD_FLOPS,
  3n * FWD_FLOPS,
  'ExactDigest',
  null,
);

const inference = (n, committee = 3) => ({
  Inference: { inputs: [...Array(n).keys()].map((i) => rawCid(new Uint8Array([i]))), committee },
});

const head = async () => (await api.rpc.chain.getHeader()).number.toNumber();

test('a kernel, two offers and a job: the cheaper offer is filled first; liveness refunds a stalled job', async () => {
  // Bob registers the kernel; the id is the hash of the record, the archive a text CID.
  const archive = rawCid(new TextEncoder().encode(`digits.pt ${Date.now()}`));
  const registered = findEvent(await ok(registerKernel(archive), bob), 'aivmRegistry', 'KernelRegistered');
  assert.ok(registered, 'KernelRegistered');
  const kernel = registered.data.kernel.toHex();
  const record = (await api.query.aivmRegistry.kernels(kernel)).unwrap();
  assert.equal(record.owner.toString(), bob.address);
  assert.equal(record.spec.inferenceFlops.toBigInt(), FWD_FLOPS);
  assert.ok(record.status.isActive);

  // Charlie and Dave bond the minimum provider stake and publish CPU offers; Dave is cheaper.
  const { minProviderBond } = (await api.query.stakingGovernance.parameters()).unwrap();
  for (const p of [charlie, dave]) {
    if ((await api.query.stakingGovernance.ledgers(p.address)).isNone) {
      await ok(api.tx.stakingGovernance.bond(minProviderBond), p);
    }
  }
  const publish = (capacity, price) => api.tx.marketplace.publishOffer(0, capacity, { Fixed: price }, 1, 1_000_000_000);
  const charlieOffer = findEvent(await ok(publish(1_000, 20n * MILLI), charlie), 'marketplace', 'OfferPublished').data.offer.toNumber();
  const daveOffer = findEvent(await ok(publish(1_000, 12n * MILLI), dave), 'marketplace', 'OfferPublished').data.offer.toNumber();

  // Ferdie posts 60,000 samples (600 WU) at up to 0.05 VER/WU: budget 600 × 0.05 × 1.2 = 36 VER.
  // Committee of 1, raised to the chain's minimum of three verifiers: Dave's result opens a
  // verification round (proof-of-compute.test.mjs drives a full committee), so three verifiers
  // are registered first.
  await ensureVerifiers(api, keyring);
  const samples = 60_000n;
  const deadline = (await head()) + 60;
  const assigned = waitForEvent(api, (e) => e.section === 'marketplace' && e.method === 'TaskAssigned', 60_000);
  const posted = findEvent(
    await ok(api.tx.marketplace.postJob(kernel, 0, inference(2, 1), samples, 50n * MILLI, deadline), ferdie),
    'marketplace',
    'JobPosted',
  );
  const job = posted.data.job.toNumber();
  assert.equal(posted.data.work.toBigInt(), 600n);
  assert.equal(posted.data.budget.toBigInt(), 36n * VER);
  assert.equal(await escrow(ferdie), 36n * VER);

  // The next block allocates: Dave (cheaper) first, up to what 1 WU/s does before the deadline,
  // then Charlie for the rest.
  await assigned;
  const tasks = (await api.query.marketplace.jobs(job)).unwrap().tasks.map((t) => t.toNumber());
  const shares = [];
  for (const id of tasks) shares.push((await api.query.marketplace.tasks(id)).unwrap());
  assert.equal(shares.length, 2, 'split over both offers');
  assert.equal(shares[0].provider.toString(), dave.address, 'the cheaper offer first');
  assert.equal(shares[0].offer.toNumber(), daveOffer);
  assert.equal(shares[0].price.toBigInt(), 12n * MILLI);
  assert.equal(shares[0].firstSample.toBigInt(), 0n);
  assert.equal(shares[1].provider.toString(), charlie.address);
  assert.equal(shares[1].offer.toNumber(), charlieOffer);
  assert.equal(shares[0].samples.toBigInt() + shares[1].samples.toBigInt(), samples);
  assert.equal(shares[1].firstSample.toBigInt(), shares[0].samples.toBigInt());
  // Dave's share is exactly his capacity before the deadline: 1 WU/s × 6 s per block.
  const allocatedAt = shares[0].assignedAt.toNumber();
  assert.equal(shares[0].samples.toBigInt(), BigInt(deadline - allocatedAt) * 6n * 100n);
  const index = (await api.query.marketplace.priceIndex(0)).toBigInt();
  const cpu = (await api.query.marketplace.resourceClasses(0)).unwrap();
  assert.ok(index >= cpu.minPrice.toBigInt() && index <= cpu.maxPrice.toBigInt(), 'index within its clamps');

  // Dave accepts and submits; Charlie stays silent.
  await ok(api.tx.marketplace.acceptTask(tasks[0]), dave);
  const submitted = findEvent(await ok(api.tx.marketplace.submitResult(tasks[0], rawCid(new TextEncoder().encode('outputs'))), dave), 'marketplace', 'ResultSubmitted');
  assert.equal(submitted.data.provider.toString(), dave.address);
  const charlieStake = (await api.query.stakingGovernance.ledgers(charlie.address)).unwrap().active.toBigInt();
  const failed = await waitForEvent(api, (e) => e.section === 'marketplace' && e.method === 'JobFailed' && e.data.job.toNumber() === job, 90_000);
  assert.ok(failed.data.reason.isNoProvider);
  assert.equal(failed.data.refund.toBigInt(), 36n * VER, 'refunded in full');
  assert.equal(await escrow(ferdie), 0n);
  const after = (await api.query.stakingGovernance.ledgers(charlie.address)).unwrap().active.toBigInt();
  assert.equal(charlieStake - after, 10n * VER, 'the missed accept was penalised');
  assert.ok((await api.query.marketplace.jobs(job)).isNone);
});

test('bad market input fails with a named error and changes nothing', async () => {
  const archive = rawCid(new TextEncoder().encode(`bad-input kernel ${Date.now()}`));
  const kernel = findEvent(await ok(registerKernel(archive, 7), bob), 'aivmRegistry', 'KernelRegistered').data.kernel.toHex();
  const nextJob = (await api.query.marketplace.nextJob()).toNumber();
  const nextOffer = (await api.query.marketplace.nextOffer()).toNumber();
  const free = (await api.query.system.account(ferdie.address)).data.free.toBigInt();
  const deadline = (await head()) + 60;
  const post = (k, kind, samples, price) => api.tx.marketplace.postJob(k, 0, kind, samples, price, deadline);

  await fails(registerKernel('bafkrei-not-base32!'), bob, 'aivmRegistry.InvalidCid');
  await fails(registerKernel('QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG'), bob, 'aivmRegistry.InvalidCid');
  await fails(registerKernel(archive, 7), bob, 'aivmRegistry.KernelExists');
  await fails(post(`0x${'11'.repeat(32)}`, inference(1), 100, MILLI), ferdie, 'marketplace.UnknownKernel');
  await fails(post(kernel, { Inference: { inputs: ['Qm-not-a-cid'], committee: 1 } }, 100, MILLI), ferdie, 'marketplace.InvalidCid');
  await fails(post(kernel, inference(1), 0, MILLI), ferdie, 'marketplace.ZeroJob');
  await fails(post(kernel, inference(1, 0), 100, MILLI), ferdie, 'marketplace.ZeroJob');
  // 2×10^11 samples = 2×10^9 WU, above MaxJobWork (10^9 WU).
  await fails(post(kernel, inference(1), 200_000_000_000n, MILLI), ferdie, 'marketplace.JobTooLarge');
  // 10^8 samples = 10^6 WU at 10 VER per WU: 12 million VER, more than Ferdie has.
  await fails(post(kernel, inference(1), 100_000_000n, 10n * VER), ferdie, 'marketplace.InsufficientBalance');
  await fails(api.tx.marketplace.publishOffer(0, 1_000, { Fixed: MILLI }, 1, 100), eve, 'stakingGovernance.BelowProviderMinimum');
  await ok(api.tx.aivmRegistry.deprecateKernel(kernel), bob);
  await fails(post(kernel, inference(1), 100, MILLI), ferdie, 'marketplace.KernelDeprecated');

  assert.equal((await api.query.marketplace.nextJob()).toNumber(), nextJob, 'no job was created');
  assert.equal((await api.query.marketplace.nextOffer()).toNumber(), nextOffer, 'no offer was created');
  assert.equal(await escrow(ferdie), 0n);
  const spent = free - (await api.query.system.account(ferdie.address)).data.free.toBigInt();
  assert.ok(spent > 0n && spent < VER / 10n, `only fees were paid (${spent})`);
});
