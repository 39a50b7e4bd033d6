// Governance from polkadot.js on the dev chain (Alice is the only staker, 5-block voting, 2-block
// enactment delay): a proposal to change a parameter (fee-settlement's challenge period) and to
// authorize a runtime upgrade (`system.authorizeUpgrade`, the first half of an upgrade by vote) is
// voted through and enacted as Root, and both are read back from storage; a proposal voted down
// changes nothing; bad input (voting without stake, double voting, an oversize call, unbonding
// more than bonded, withdrawing before the delay) fails readably and changes nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { blake2AsHex } from '@polkadot/util-crypto';
import { connect, errorName, signAndInclude, VER, waitForEvent } from './lib.mjs';

let api;
let alice;
let bob;
let ferdie;

before(async () => {
  const c = await connect();
  api = c.api;
  alice = c.keyring.addFromUri('//Alice');
  bob = c.keyring.addFromUri('//Bob');
  ferdie = c.keyring.addFromUri('//Ferdie');
});

after(async () => {
  await api?.disconnect();
});

const gov = (events, method) => events.find(({ event }) => event.section === 'stakingGovernance' && event.method === method)?.event;
const challengePeriod = async () => (await api.query.feeSettlement.challengePeriod()).toNumber();
const deposits = async (who) => (await api.query.balances.holds(who.address))
  .filter((h) => h.id.isStakingGovernance && h.id.asStakingGovernance.isProposalDeposit)
  .reduce((sum, h) => sum + h.amount.toBigInt(), 0n);

/** Proposes `call` as Alice and votes on it; resolves with the proposal index. */
async function proposeAndVote(call, aye) {
  const { events, dispatchError } = await signAndInclude(api, api.tx.stakingGovernance.propose(call), alice);
  assert.equal(dispatchError, null);
  const proposed = gov(events, 'Proposed');
  assert.ok(proposed, 'Proposed event');
  assert.equal(proposed.data.proposer.toString(), alice.address);
  assert.equal(proposed.data.deposit.toBigInt(), 100n * VER);
  const index = proposed.data.index.toNumber();
  const voted = await signAndInclude(api, api.tx.stakingGovernance.vote(index, aye), alice);
  assert.equal(voted.dispatchError, null);
  const ev = gov(voted.events, 'Voted');
  assert.equal(ev.data.aye.isTrue, aye);
  assert.equal(ev.data.stake.toBigInt(), 100_000n * VER);
  return index;
}

test('a parameter change and an upgrade authorization pass by stake-weighted vote, enacted as Root', async () => {
  const before = await challengePeriod();
  // At least fee-settlement's MinChallengePeriod (100 blocks).
  const target = before === 100 ? 101 : 100;
  const code = await api.rpc.state.getStorage('0x3a636f6465'); // the well-known `:code` key
  const codeHash = blake2AsHex(code.toU8a(true), 256);
  const call = api.tx.utility.batchAll([
    api.tx.feeSettlement.setChallengePeriod(target),
    api.tx.system.authorizeUpgrade(codeHash),
  ]);
  const index = await proposeAndVote(call, true);
  assert.equal(await deposits(alice), 100n * VER);
  const approved = await waitForEvent(api, (e) => api.events.stakingGovernance.ProposalApproved.is(e) && e.data.index.toNumber() === index);
  assert.equal(approved.data.ayes.toBigInt(), 100_000n * VER);
  const enacted = await waitForEvent(api, (e) => api.events.stakingGovernance.ProposalEnacted.is(e) && e.data.index.toNumber() === index);
  assert.ok(enacted.data.result.isOk, `enacted with ${enacted.data.result.toString()}`);
  assert.equal(await challengePeriod(), target);
  const authorized = await api.query.system.authorizedUpgrade();
  assert.ok(authorized.isSome, 'upgrade authorized');
  assert.equal(authorized.unwrap().codeHash.toHex(), codeHash);
  assert.equal(await deposits(alice), 0n, 'deposit returned');
  assert.ok((await api.query.stakingGovernance.proposals(index)).isNone);
});

test('a proposal voted down changes nothing and returns the deposit', async () => {
  const before = await challengePeriod();
  const index = await proposeAndVote(api.tx.feeSettlement.setChallengePeriod(before + 100), false);
  const rejected = await waitForEvent(api, (e) => api.events.stakingGovernance.ProposalRejected.is(e) && e.data.index.toNumber() === index);
  assert.equal(rejected.data.nays.toBigInt(), 100_000n * VER);
  assert.ok(rejected.data.turnoutReached.isTrue);
  assert.equal(await challengePeriod(), before);
  assert.equal(await deposits(alice), 0n);
});

test('bad input fails readably and changes nothing', async () => {
  // A proposal to vote on.
  const { events } = await signAndInclude(api, api.tx.stakingGovernance.propose(api.tx.feeSettlement.setChallengePeriod(120)), alice);
  const index = gov(events, 'Proposed').data.index.toNumber();
  await signAndInclude(api, api.tx.stakingGovernance.vote(index, false), alice);
  const tally = (await api.query.stakingGovernance.proposals(index)).unwrap();

  const cases = [
    ['stakingGovernance.NoStake', api.tx.stakingGovernance.vote(index, true), ferdie],
    ['stakingGovernance.AlreadyVoted', api.tx.stakingGovernance.vote(index, true), alice],
    ['stakingGovernance.CallTooLarge', api.tx.stakingGovernance.propose(api.tx.system.remark('0x' + '00'.repeat(5000))), alice],
    ['stakingGovernance.InsufficientBond', api.tx.stakingGovernance.unbond(200_000n * VER), alice],
    ['stakingGovernance.NotBonded', api.tx.stakingGovernance.unbond(VER), ferdie],
  ];
  for (const [i, [expected, tx, signer]] of cases.entries()) {
    const { dispatchError } = await signAndInclude(api, tx, signer);
    assert.ok(dispatchError, `${expected} expected`);
    assert.equal(errorName(api, dispatchError), expected);
    if (i === 1) {
      // The rejected votes left the tally alone (voting is still open: 5 blocks).
      const now = (await api.query.stakingGovernance.proposals(index)).unwrap();
      assert.equal(now.nays.toBigInt(), tally.nays.toBigInt());
      assert.equal(now.ayes.toBigInt(), 0n);
      assert.equal(now.voters.toNumber(), 1);
    }
  }

  // Withdrawing before the unbonding delay: Bob bonds, unbonds, withdraws at once.
  assert.equal((await signAndInclude(api, api.tx.stakingGovernance.bond(10n * VER), bob)).dispatchError, null);
  const unbonded = await signAndInclude(api, api.tx.stakingGovernance.unbond(4n * VER), bob);
  assert.ok(gov(unbonded.events, 'Unbonded'));
  const early = await signAndInclude(api, api.tx.stakingGovernance.withdrawUnbonded(), bob);
  assert.equal(errorName(api, early.dispatchError), 'stakingGovernance.NothingToWithdraw');
  const ledger = (await api.query.stakingGovernance.ledgers(bob.address)).unwrap();
  assert.equal(ledger.active.toBigInt(), 6n * VER);
  assert.equal(ledger.unlocking[0].value.toBigInt(), 4n * VER);
});
