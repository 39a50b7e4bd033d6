// Proof of compute from polkadot.js on the dev chain, with no custom types: Dave (//Dave//stash)
// offers consumer-GPU capacity, Charlie, Eve and Ferdie (their stash accounts) register as
// verifiers, Ferdie posts an inference job with a committee of three verifiers. Dave accepts and
// submits; two blocks later the chain draws the committee (Dave, then the three verifiers); all
// four commit sha2-256("verity/commit/v1" ‖ round ‖ digest ‖ nonce ‖ member) and then reveal;
// the verifiers' verdict accepts Dave's result, the job completes, Dave is paid and the
// verifiers share the margin. Commitments for unknown rounds, reveals from non-members, a reveal that does
// not match its commitment and a summary where the rule takes none fail with named errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { u8aToHex } from '@polkadot/util';
import { sha256AsU8a, randomAsU8a } from '@polkadot/util-crypto';
import {
  commitment, connect, ensureVerifiers, expectFailure, expectSuccess, findEvent, rawCid, VER, waitForEvent,
} from './lib.mjs';

let api;
let bob;
let charlie;
let dave;
let eve;
let ferdie;
let ferdieStash;
let keyring;

before(async () => {
  const c = await connect();
  api = c.api;
  keyring = c.keyring;
  // The stash accounts are endowed on the dev chain and untouched by the other e2e tests.
  [bob, charlie, dave, eve, ferdie, ferdieStash] = ['//Bob', '//Charlie//stash', '//Dave//stash', '//Eve//stash', '//Ferdie', '//Ferdie//stash']
    .map((uri) => c.keyring.addFromUri(uri));
});

after(async () => {
  await api?.disconnect();
});

const ok = (tx, signer) => expectSuccess(api, tx, signer);
const fails = (tx, signer, expected) => expectFailure(api, tx, signer, expected);

const head = async () => (await api.rpc.chain.getHeader()).number.toNumber();

async function untilBlock(n) {
  while ((await head()) < n) await new Promise((r) => setTimeout(r, 1_000));
}

test('one task through commit, reveal and acceptance by a committee of three verifiers', async () => {
  const { minProviderBond } = (await api.query.stakingGovernance.parameters()).unwrap();
  const ledger = await api.query.stakingGovernance.ledgers(dave.address);
  const active = ledger.isSome ? ledger.unwrap().active.toBigInt() : 0n;
  if (ledger.isNone) await ok(api.tx.stakingGovernance.bond(minProviderBond), dave);
  else if (active < minProviderBond.toBigInt()) await ok(api.tx.stakingGovernance.bondExtra(minProviderBond.toBigInt() - active), dave);
  const verifiers = await ensureVerifiers(api, keyring);
  assert.deepEqual(verifiers.map((v) => v.address), [charlie, eve, ferdieStash].map((v) => v.address));
  const registered = (await api.query.proofOfCompute.verifiers()).map((a) => a.toString());
  for (const v of verifiers) assert.ok(registered.includes(v.address), 'registered as a verifier');
  await fails(api.tx.proofOfCompute.registerVerifier(), charlie, 'proofOfCompute.AlreadyVerifier');

  // Dave offers consumer-GPU capacity; Bob registers a kernel; Ferdie posts a job, committee 3.
  await ok(api.tx.marketplace.publishOffer(1, 1_000, { Fixed: 4n * VER / 1000n }, 1, 1_000_000_000), dave);
  const archive = rawCid(new TextEncoder().encode(`poc kernel ${Date.now()}`));
  const kernel = findEvent(await ok(api.tx.aivmRegistry.registerKernel(
    archive,
    { libtorch: '2.11.0', device: 'Cuda', dtype: 'F32', deterministicAlgorithms: true, tf32Disabled: true, seed: 1 },
    [{ dtype: 'F32', shape: [0, 64] }],
    [{ dtype: 'F32', shape: [0, 10] }],
    10_000_000_000n,
    30_000_000_000n,
    'ExactDigest',
    null,
  ), bob), 'aivmRegistry', 'KernelRegistered').data.kernel.toHex();
  const assigned = waitForEvent(api, (e) => e.section === 'marketplace' && e.method === 'TaskAssigned'
    && e.data.provider.toString() === dave.address, 60_000);
  const job = findEvent(await ok(api.tx.marketplace.postJob(
    kernel, 1, { Inference: { inputs: [rawCid(new Uint8Array([1, 2, 3]))], committee: 3 } },
    1_000, 5n * VER / 1000n, (await head()) + 100,
  ), ferdie), 'marketplace', 'JobPosted').data.job.toNumber();
  const task = (await assigned).data.task.toNumber();

  // Dave runs the job; the outputs' canonical bytes give both the digest and the result CID.
  const outputs = new TextEncoder().encode(`logits of job ${job}`);
  const digest = sha256AsU8a(outputs);
  const result = rawCid(outputs);
  await ok(api.tx.marketplace.acceptTask(task), dave);
  const drawn = waitForEvent(api, (e) => e.section === 'proofOfCompute' && e.method === 'CommitteeSelected'
    && e.data.subject.isTask && e.data.subject.asTask.toNumber() === task, 60_000);
  const submitted = await ok(api.tx.marketplace.submitResult(task, result), dave);
  // The committee is not known at submission: it is drawn two blocks later, from randomness that
  // does not exist yet.
  const pending = findEvent(submitted, 'proofOfCompute', 'CommitteePending');
  assert.ok(pending, 'the submission opened a round');
  assert.ok(!findEvent(submitted, 'proofOfCompute', 'CommitteeSelected'), 'no committee in the submission\'s block');
  const round = pending.data.round.toNumber();
  const drawAt = pending.data.drawAt.toNumber();
  const selected = await drawn;
  assert.equal(selected.data.round.toNumber(), round);
  assert.ok((await head()) >= drawAt);
  const members = selected.data.members.map((m) => m.toString());
  assert.equal(members.length, 4);
  assert.equal(members[0], dave.address, 'the provider sits first');
  assert.deepEqual([...members.slice(1)].sort(), [charlie, eve, ferdieStash].map((v) => v.address).sort());
  const commitEnd = selected.data.commitEnd.toNumber();
  assert.equal((await api.query.proofOfCompute.taskRounds(task)).unwrap().toNumber(), round);

  // All four commit at once (the window is 10 blocks on dev).
  const seats = [dave, charlie, eve, ferdieStash];
  const nonces = new Map(seats.map((m) => [m.address, randomAsU8a(32)]));
  const commits = await Promise.all(seats.map((m) => ok(
    api.tx.proofOfCompute.commit(round, commitment(round, digest, nonces.get(m.address), m)), m,
  )));
  commits.forEach((events, i) => {
    assert.equal(findEvent(events.filter(({ event: e }) => e.data.member?.toString() === seats[i].address), 'proofOfCompute', 'Committed').data.round.toNumber(), round);
  });
  // Bad input: an unknown round, a non-member, a second commitment.
  await fails(api.tx.proofOfCompute.commit(round + 1000, u8aToHex(digest)), charlie, 'proofOfCompute.UnknownRound');
  await fails(api.tx.proofOfCompute.commit(round, u8aToHex(digest)), ferdie, 'proofOfCompute.NotMember');
  await fails(api.tx.proofOfCompute.commit(round, u8aToHex(digest)), charlie, 'proofOfCompute.AlreadyCommitted');
  await untilBlock(commitEnd + 1);
  await fails(api.tx.proofOfCompute.reveal(round, u8aToHex(sha256AsU8a(new Uint8Array([9]))), result, u8aToHex(nonces.get(eve.address)), []), eve, 'proofOfCompute.CommitmentMismatch');
  await fails(api.tx.proofOfCompute.reveal(round, u8aToHex(digest), result, u8aToHex(nonces.get(eve.address)), [1]), eve, 'proofOfCompute.WrongSummaryLength');

  const freeDave = (await api.query.system.account(dave.address)).data.free.toBigInt();
  const accepted = waitForEvent(api, (e) => e.section === 'proofOfCompute' && e.method === 'ResultAccepted' && e.data.round.toNumber() === round, 120_000);
  const completed = waitForEvent(api, (e) => e.section === 'marketplace' && e.method === 'JobCompleted' && e.data.job.toNumber() === job, 120_000);
  const reveals = await Promise.all(seats.map((m) => ok(
    api.tx.proofOfCompute.reveal(round, u8aToHex(digest), result, u8aToHex(nonces.get(m.address)), []), m,
  )));
  const fees = new Map();
  reveals.forEach((events, i) => {
    const m = seats[i];
    const paid = events.find(({ event: e }) => e.section === 'transactionPayment' && e.data.who.toString() === m.address);
    fees.set(m.address, paid.event.data.actualFee.toBigInt());
  });
  const acc = await accepted;
  assert.equal(acc.data.digest.toHex(), u8aToHex(digest));
  assert.deepEqual(acc.data.agreeing.map((a) => a.toString()), members);
  const done = await completed;
  // 10 WU at 0.004 VER: 0.04 VER, less the 1 % fee, to Dave; 20 % margin (0.008) to the three
  // verifiers in equal parts (whole planck: the 2 planck left over go back with the rest of the
  // 0.06 VER budget).
  assert.equal(done.data.paid.toBigInt(), 40n * VER / 1000n - 4n * VER / 10_000n);
  assert.equal(done.data.fee.toBigInt(), 4n * VER / 10_000n);
  assert.equal(done.data.verifiers.toBigInt(), 3n * (8n * VER / 1000n / 3n));
  const paidDave = (await api.query.system.account(dave.address)).data.free.toBigInt() - freeDave + fees.get(dave.address);
  assert.equal(paidDave, done.data.paid.toBigInt());
  assert.ok((await api.query.proofOfCompute.taskRounds(task)).isNone);
  assert.ok((await api.query.marketplace.jobs(job)).isNone);
});
