// The dev chain from polkadot.js: chain properties, a VER transfer Alice -> Bob that is finalised
// with its named-field event, and an over-balance transfer that fails readably and moves nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, errorName, feePaid, freeBalance, signAndFinalize, VER } from './lib.mjs';

let api;
let alice;
let bob;

before(async () => {
  const c = await connect();
  api = c.api;
  alice = c.keyring.addFromUri('//Alice');
  bob = c.keyring.addFromUri('//Bob');
});

after(async () => {
  await api?.disconnect();
});

test('chain properties announce VER with 12 decimals', async () => {
  const props = await api.rpc.system.properties();
  assert.deepEqual(props.tokenSymbol.unwrap().map(String), ['VER']);
  assert.deepEqual(props.tokenDecimals.unwrap().map((d) => d.toNumber()), [12]);
  assert.deepEqual(api.registry.chainTokens, ['VER']);
  assert.deepEqual(api.registry.chainDecimals, [12]);
  assert.equal((await api.rpc.system.chain()).toString(), 'Verity Development');
});

test('Alice transfers VER to Bob; finalised, event checked, balances exact', async () => {
  const amount = 10n * VER;
  const aliceBefore = await freeBalance(api, alice.address);
  const bobBefore = await freeBalance(api, bob.address);

  const { blockHash, events, dispatchError } = await signAndFinalize(
    api, api.tx.balances.transferKeepAlive(bob.address, amount), alice);
  assert.equal(dispatchError, null);

  const transfer = events.find(({ event }) => api.events.balances.Transfer.is(event));
  assert.ok(transfer, 'balances.Transfer emitted');
  assert.deepEqual(transfer.event.data.names, ['from', 'to', 'amount']);
  assert.equal(transfer.event.data.from.toString(), alice.address);
  assert.equal(transfer.event.data.to.toString(), bob.address);
  assert.equal(transfer.event.data.amount.toBigInt(), amount);
  assert.ok(events.some(({ event }) => api.events.system.ExtrinsicSuccess.is(event)));

  // Finalised: the block is at or below the finalized head.
  const finalized = await api.rpc.chain.getFinalizedHead();
  const [inBlock, head] = await Promise.all([api.rpc.chain.getHeader(blockHash), api.rpc.chain.getHeader(finalized)]);
  assert.ok(inBlock.number.toNumber() <= head.number.toNumber());

  const fee = feePaid(events);
  assert.ok(fee > 0n, 'a fee was charged');
  assert.equal(await freeBalance(api, bob.address, blockHash), bobBefore + amount);
  assert.equal(await freeBalance(api, alice.address, blockHash), aliceBefore - amount - fee);
});

test('an over-balance transfer fails with a readable error and moves nothing', async () => {
  const aliceBefore = await freeBalance(api, alice.address);
  const bobBefore = await freeBalance(api, bob.address);

  const { blockHash, events, dispatchError } = await signAndFinalize(
    api, api.tx.balances.transferKeepAlive(bob.address, aliceBefore * 2n), alice);
  assert.ok(dispatchError, 'the transfer failed');
  assert.equal(errorName(api, dispatchError), 'token.FundsUnavailable');
  assert.ok(events.some(({ event }) => api.events.system.ExtrinsicFailed.is(event)));
  assert.ok(!events.some(({ event }) => api.events.balances.Transfer.is(event)), 'no Transfer event');

  // Only the fee left Alice's account; Bob received nothing.
  assert.equal(await freeBalance(api, bob.address, blockHash), bobBefore);
  assert.equal(await freeBalance(api, alice.address, blockHash), aliceBefore - feePaid(events));
});
