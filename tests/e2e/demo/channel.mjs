// The payment-channel part of the main job (scripts/demo.sh): Alice opens a channel to Bob, calls
// his model N times paying with a signed voucher each time, and Bob settles all N requests with one
// redeem. Prints what happened and what it cost. Usage: VERITY_WS=ws://… node demo/channel.mjs [N]
import { blake2AsU8a } from '@polkadot/util-crypto';
import { formatBalance } from '@polkadot/util';
import { connect, feePaid, signAndFinalize, VER } from '../lib.mjs';
import { signVoucher, VoucherLog, voucherArg } from '../voucher.mjs';

const n = Number(process.argv[2] || 10000);
const price = VER / 1000n; // 0.001 VER per request
const { api, keyring } = await connect();
const alice = keyring.addFromUri('//Alice');
const bob = keyring.addFromUri('//Bob');
const fmt = (v) => formatBalance(v, { decimals: 12, withUnit: 'VER', forceUnit: '-' });

const opened = await signAndFinalize(api, api.tx.feeSettlement.openChannel(bob.address, 20n * VER), alice);
if (opened.dispatchError) throw new Error(`openChannel failed: ${opened.dispatchError}`);
const channel = opened.events.find(({ event }) => api.events.feeSettlement.ChannelOpened.is(event)).event.data.channel;

const start = performance.now();
const log = new VoucherLog(channel.toU8a());
let last;
for (let i = 0; i < n; i++) {
  const v = log.next(blake2AsU8a(`prompt ${i}`, 256), price);
  last = { v, sig: signVoucher(alice, api.genesisHash.toU8a(), v) };
}
const signMs = performance.now() - start;

const redeemed = await signAndFinalize(api, api.tx.feeSettlement.redeem(voucherArg(last.v), last.sig), bob);
if (redeemed.dispatchError) throw new Error(`redeem failed: ${redeemed.dispatchError}`);
const ev = redeemed.events.find(({ event }) => api.events.feeSettlement.VoucherRedeemed.is(event)).event.data;
const { weight } = await api.tx.feeSettlement.redeem(voucherArg(last.v), last.sig).paymentInfo(bob.address);

console.log(`  channel          ${channel.toHex()} (Alice -> Bob, 20 VER deposit)`);
console.log(`  requests         ${n} vouchers signed off chain in ${(signMs / 1000).toFixed(1)} s (${(signMs * 1000 / n).toFixed(0)} µs each, incl. Merkle root)`);
console.log(`  settled          one redeem: nonce ${ev.nonce}, paid ${fmt(ev.amount.toBigInt())}, fee ${fmt(feePaid(redeemed.events))}`);
console.log(`  redeem weight    ${weight.refTime.toBigInt()} ps ref time, ${weight.proofSize.toBigInt()} B proof (the same for 1 request or 1,000,000)`);
await api.disconnect();
