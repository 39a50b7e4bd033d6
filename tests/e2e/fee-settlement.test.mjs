// Payment channels from polkadot.js: Charlie (buyer) opens a channel to Dave (provider), signs
// 1,000 vouchers off chain, and Dave redeems only the last: one call settles all 1,000 requests.
// Then stale, forged and malformed input is rejected with readable errors and moves nothing, a
// request is proven paid with a Merkle proof, a <Bytes>-wrapped (signRaw-style) voucher redeems,
// and the provider's close refunds the rest.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { u8aToHex } from '@polkadot/util';
import { blake2AsU8a } from '@polkadot/util-crypto';
import {
  connect, errorName, feePaid, findEvent, freeBalance, signAndFinalize, signAndInclude, VER,
} from './lib.mjs';
import { channelId, merkleProof, signVoucher, VoucherLog, voucherArg } from './voucher.mjs';

const DEPOSIT = 100n * VER;
const PRICE = VER / 20n; // 0.05 VER per request
const REQUESTS = 1000;

let api;
let charlie;
let dave;
let channel;
let log;
let vouchers;

before(async () => {
  const c = await connect();
  api = c.api;
  charlie = c.keyring.addFromUri('//Charlie');
  dave = c.keyring.addFromUri('//Dave');
});

after(async () => {
  await api?.disconnect();
});

const reserved = async (who) => (await api.query.system.account(who.address)).data.reserved.toBigInt();
const find = (events, method) => findEvent(events, 'feeSettlement', method);

test('Charlie opens a channel to Dave with a 100 VER deposit held', async () => {
  const { opened } = (await api.query.feeSettlement.buyers(charlie.address)).toJSON();
  const reservedBefore = await reserved(charlie);
  const { events, dispatchError } = await signAndFinalize(
    api, api.tx.feeSettlement.openChannel(dave.address, DEPOSIT), charlie);
  assert.equal(dispatchError, null);
  const ev = find(events, 'ChannelOpened');
  assert.ok(ev, 'ChannelOpened event');
  channel = ev.data.channel.toU8a();
  // The id polkadot.js computes is the id the chain assigned.
  assert.equal(u8aToHex(channel), u8aToHex(channelId(charlie.publicKey, dave.publicKey, opened)));
  assert.equal(ev.data.buyer.toString(), charlie.address);
  assert.equal(ev.data.provider.toString(), dave.address);
  assert.equal(ev.data.deposit.toBigInt(), DEPOSIT);
  assert.equal(await reserved(charlie), reservedBefore + DEPOSIT);
});

test(`Charlie signs ${REQUESTS} vouchers off chain; Dave redeems only the last`, async () => {
  const genesis = api.genesisHash.toU8a();
  log = new VoucherLog(channel);
  vouchers = [];
  for (let i = 0; i < REQUESTS; i++) {
    const requestHash = blake2AsU8a(`inference request ${i}`, 256);
    const v = log.next(requestHash, PRICE);
    vouchers.push({ v, sig: signVoucher(charlie, genesis, v) });
  }
  const last = vouchers[REQUESTS - 1];
  assert.equal(last.v.cumulative, PRICE * BigInt(REQUESTS));

  const daveBefore = await freeBalance(api, dave.address);
  const charlieReserved = await reserved(charlie);
  const { events, dispatchError } = await signAndFinalize(
    api, api.tx.feeSettlement.redeem(voucherArg(last.v), last.sig), dave);
  assert.equal(dispatchError, null);
  const ev = find(events, 'VoucherRedeemed');
  assert.ok(ev, 'VoucherRedeemed event');
  assert.equal(u8aToHex(ev.data.channel.toU8a()), u8aToHex(channel));
  assert.equal(ev.data.provider.toString(), dave.address);
  assert.equal(ev.data.nonce.toNumber(), REQUESTS);
  assert.equal(ev.data.cumulative.toBigInt(), 50n * VER);
  assert.equal(ev.data.amount.toBigInt(), 50n * VER);
  // Dave got 50 VER minus his fee; Charlie's held deposit fell by exactly 50 VER.
  assert.equal(await freeBalance(api, dave.address), daveBefore + 50n * VER - feePaid(events));
  assert.equal(await reserved(charlie), charlieReserved - 50n * VER);
  const stored = (await api.query.feeSettlement.channels(channel)).unwrap();
  assert.equal(stored.paid.toBigInt(), 50n * VER);
  assert.equal(stored.nonce.toNumber(), REQUESTS);
});

test('stale, forged and malformed vouchers fail readably and move nothing', async () => {
  const daveReserved = await reserved(dave);
  const charlieReserved = await reserved(charlie);
  const stale = vouchers[REQUESTS - 2];
  const forged = { ...log.next(blake2AsU8a('one more', 256), PRICE) };
  const cases = [
    ['feeSettlement.StaleVoucher', api.tx.feeSettlement.redeem(voucherArg(stale.v), stale.sig)],
    // Dave signing Charlie's voucher himself.
    ['feeSettlement.InvalidSignature', api.tx.feeSettlement.redeem(voucherArg(forged), signVoucher(dave, api.genesisHash.toU8a(), forged))],
    // Signature bytes that are no signature.
    ['feeSettlement.InvalidSignature', api.tx.feeSettlement.redeem(voucherArg(forged), { Sr25519: u8aToHex(new Uint8Array(64).fill(7)) })],
    // Signed for another chain.
    ['feeSettlement.InvalidSignature', api.tx.feeSettlement.redeem(voucherArg(forged), signVoucher(charlie, new Uint8Array(32).fill(1), forged))],
  ];
  for (const [expected, tx] of cases) {
    const { dispatchError } = await signAndInclude(api, tx, dave);
    assert.ok(dispatchError, `${expected} expected`);
    assert.equal(errorName(api, dispatchError), expected);
  }
  const bad = [
    ['feeSettlement.DepositTooLow', api.tx.feeSettlement.openChannel(dave.address, 0)],
    ['feeSettlement.SelfChannel', api.tx.feeSettlement.openChannel(charlie.address, VER)],
  ];
  for (const [expected, tx] of bad) {
    const { dispatchError } = await signAndInclude(api, tx, charlie);
    assert.equal(errorName(api, dispatchError), expected);
  }
  assert.equal(await reserved(charlie), charlieReserved);
  assert.equal(await reserved(dave), daveReserved);
  assert.equal((await api.query.feeSettlement.channels(channel)).unwrap().nonce.toNumber(), REQUESTS);
  // Take back the voucher built for the forgery test.
  log.requests.pop();
  log.cumulative -= PRICE;
});

test('a request is proven paid with a Merkle proof against the redeemed root', async () => {
  const index = 123;
  const proof = merkleProof(log.requests, index).map((p) => u8aToHex(p));
  const { events, dispatchError } = await signAndInclude(
    api, api.tx.feeSettlement.proveRequest(channel, u8aToHex(log.requests[index]), index, proof), charlie);
  assert.equal(dispatchError, null);
  const ev = find(events, 'RequestProven');
  assert.equal(ev.data.index.toNumber(), index);
  assert.equal(ev.data.nonce.toNumber(), REQUESTS);
  // The same proof for another position is rejected.
  const { dispatchError: err } = await signAndInclude(
    api, api.tx.feeSettlement.proveRequest(channel, u8aToHex(log.requests[index]), index + 1, proof), charlie);
  assert.equal(errorName(api, err), 'feeSettlement.InvalidProof');
});

test('a <Bytes>-wrapped voucher (as signRaw signs) redeems; the provider close refunds the rest', async () => {
  const v = log.next(blake2AsU8a('request 1001', 256), PRICE);
  const sig = signVoucher(charlie, api.genesisHash.toU8a(), v, { wrapped: true });
  const { events, dispatchError } = await signAndInclude(api, api.tx.feeSettlement.redeem(voucherArg(v), sig), dave);
  assert.equal(dispatchError, null);
  assert.equal(find(events, 'VoucherRedeemed').data.amount.toBigInt(), PRICE);

  const charlieFree = await freeBalance(api, charlie.address);
  const charlieReserved = await reserved(charlie);
  const { events: closeEvents, dispatchError: closeError } = await signAndFinalize(
    api, api.tx.feeSettlement.closeByProvider(channel), dave);
  assert.equal(closeError, null);
  const ev = find(closeEvents, 'ChannelClosed');
  const paid = 50n * VER + PRICE;
  assert.equal(ev.data.paid.toBigInt(), paid);
  assert.equal(ev.data.refunded.toBigInt(), DEPOSIT - paid);
  assert.equal(await freeBalance(api, charlie.address), charlieFree + DEPOSIT - paid);
  assert.equal(await reserved(charlie), charlieReserved - (DEPOSIT - paid));
  assert.ok((await api.query.feeSettlement.channels(channel)).isNone);
});
