// The paid-inference part of the main job (scripts/demo.sh): Bob's daemon serves the digits
// kernel's trained version over HTTP (`verity-worker provide --serve`, started by demo.sh); Alice
// opens a payment channel to Bob and sends N requests, one test-set row each, every one paid by
// a voucher and answered with Bob's signed receipt (checked); she scores the answers against the
// labels and asks to close, and Bob's daemon settles every request in one redeem.
// Usage: VERITY_WS=ws://… VERITY_SERVE_URL=http://… VERITY_SERVE_KERNEL=0x… VERITY_KERNEL_DIR=…
//        node demo/serve.mjs [N]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatBalance } from '@polkadot/util';
import { connect, feePaid, signAndFinalize, VER } from '../lib.mjs';
import { readSafetensors } from '../providers.mjs';
import { ServingClient } from '../voucher.mjs';

const n = Number(process.argv[2] || 1000);
const url = process.env.VERITY_SERVE_URL;
const kernel = process.env.VERITY_SERVE_KERNEL;
const { api, keyring } = await connect();
const alice = keyring.addFromUri('//Alice');
const bob = keyring.addFromUri('//Bob');
const fmt = (v) => formatBalance(v, { decimals: 12, withUnit: 'VER', forceUnit: '-' });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The daemon measures its capacity before it listens, and reads the price from chain after:
// wait for both, up to 5 minutes.
let info;
let last;
for (let i = 0; i < 300 && info?.kernels[0]?.price_per_row == null; i += 1) {
  try {
    info = await (await fetch(`${url}/v1/info`)).json();
  } catch (e) {
    last = e.cause ?? e;
  }
  if (info?.kernels[0]?.price_per_row == null) await sleep(1000);
}
if (info?.kernels[0]?.price_per_row == null) {
  throw new Error(`the inference server at ${url} has no priced kernel after 5 minutes: ${last ?? JSON.stringify(info)}`);
}
const price = BigInt(info.kernels[0].price_per_row);
const opened = await signAndFinalize(api, api.tx.feeSettlement.openChannel(bob.address, VER), alice);
if (opened.dispatchError) throw new Error(`openChannel failed: ${opened.dispatchError}`);
const channel = opened.events.find(({ event }) => api.events.feeSettlement.ChannelOpened.is(event)).event.data.channel;
const client = new ServingClient({ url, pair: alice, genesisHash: api.genesisHash, channel: channel.toU8a(), kernel, pricePerRow: price, provider: bob.publicKey });

const test = readSafetensors(readFileSync(join(process.env.VERITY_KERNEL_DIR, 'test.safetensors')));
const [rows, width] = test.x.shape;
let right = 0;
const lat = [];
const start = performance.now();
for (let i = 0; i < n; i += 1) {
  const r = i % rows;
  const t0 = performance.now();
  const { output } = await client.infer([1, width], Array.from(test.x.data.subarray(r * width, (r + 1) * width)));
  lat.push(performance.now() - t0);
  const best = output.data.indexOf(Math.max(...output.data));
  if (BigInt(best) === BigInt(test.y.data[r])) right += 1;
}
const secs = (performance.now() - start) / 1000;
lat.sort((a, b) => a - b);

// Alice asks to close; Bob's daemon redeems at once, in one call.
const redeemed = new Promise((resolve) => {
  api.query.system.events((records) => {
    for (const { event, phase } of records) {
      if (api.events.feeSettlement.VoucherRedeemed.is(event) && event.data.channel.eq(channel)) resolve({ event, phase, records });
    }
  });
});
const close = await signAndFinalize(api, api.tx.feeSettlement.requestClose(channel), alice);
if (close.dispatchError) throw new Error(`requestClose failed: ${close.dispatchError}`);
const { event, phase, records } = await redeemed;
const fee = feePaid(records.filter((r) => r.phase.eq(phase)));
const ev = event.data;
if (ev.nonce.toNumber() !== n || ev.amount.toBigInt() !== price * BigInt(n)) {
  throw new Error(`the redeem paid ${ev.amount} for ${ev.nonce} requests; expected ${price * BigInt(n)} for ${n}`);
}

console.log(`  server           ${url} (verity-worker provide --serve: Bob's daemon, the trained digits version ${kernel.slice(0, 18)}…)`);
console.log(`  price            ${price} planck (10^-12 VER) a row: the kernel's ${info.kernels[0].inference_flops} FLOPs at Bob's offer of ${fmt(BigInt(info.price_per_wu))}/WU`);
console.log(`  channel          ${channel.toHex()} (Alice -> Bob, 1 VER deposit)`);
console.log(`  requests         ${n} answered in ${secs.toFixed(1)} s (p50 ${lat[Math.floor(n / 2)].toFixed(1)} ms), each paid by a voucher checked before the kernel ran, each receipt signature verified`);
console.log(`  answers          ${right}/${n} right (${(100 * right / n).toFixed(1)}% on the digits test set)`);
console.log(`  settled          Alice asked to close; Bob's daemon redeemed at once in one call: nonce ${ev.nonce}, paid ${ev.amount.toBigInt()} planck (${n} × ${price}), fee ${fmt(fee)}`);
await api.disconnect();
process.exit(0);
