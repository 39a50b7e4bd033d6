// The paid-inference part of the main job (scripts/demo.sh): Bob's daemon serves the digits
// kernel's trained version over HTTP (`verity-worker provide --serve`, started by demo.sh); Alice
// opens a payment channel to Bob and sends N requests, one test-set row each, every one paid by
// a voucher and answered with Bob's signed receipt (checked); she scores the answers against the
// labels and asks to close, and Bob's daemon settles every request in one redeem. The daemon also
// serves the char transformer as text: Ferdie, on his own channel, asks the `openai` package's
// client (unchanged but for its fetch, which adds the voucher) for a completion, checks its
// receipt, closes, and Bob's daemon redeems that channel too.
// Usage: VERITY_WS=ws://… VERITY_SERVE_URL=http://… VERITY_SERVE_KERNEL=0x… VERITY_KERNEL_DIR=…
//        VERITY_SERVE_TEXT=0x… node demo/serve.mjs [N]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { formatBalance } from '@polkadot/util';
import { connect, feePaid, signAndFinalize, VER } from '../lib.mjs';
import { readSafetensors } from '../providers.mjs';
import { ServingClient } from '../voucher.mjs';

const n = Number(process.argv[2] || 1000);
const url = process.env.VERITY_SERVE_URL;
const kernel = process.env.VERITY_SERVE_KERNEL;
const charlm = process.env.VERITY_SERVE_TEXT;
const { api, keyring } = await connect();
const alice = keyring.addFromUri('//Alice');
const bob = keyring.addFromUri('//Bob');
const ferdie = keyring.addFromUri('//Ferdie');
const fmt = (v) => formatBalance(v, { decimals: 12, withUnit: 'VER', forceUnit: '-' });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The daemon measures its capacity before it listens, and reads the price from chain after:
// wait for both, up to 5 minutes.
let info;
let last;
const served = (id) => info?.kernels.find((k) => k.id === id);
for (let i = 0; i < 300 && served(kernel)?.price_per_row == null; i += 1) {
  try {
    info = await (await fetch(`${url}/v1/info`)).json();
  } catch (e) {
    last = e.cause ?? e;
  }
  if (served(kernel)?.price_per_row == null) await sleep(1000);
}
if (served(kernel)?.price_per_row == null || served(charlm)?.price_per_row == null) {
  throw new Error(`the inference server at ${url} has not priced both kernels after 5 minutes: ${last ?? JSON.stringify(info)}`);
}
const price = BigInt(served(kernel).price_per_row);
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

// A completion from the char transformer, through the openai client, paid on Ferdie's channel.
const textPrice = BigInt(served(charlm).price_per_row);
const textOpened = await signAndFinalize(api, api.tx.feeSettlement.openChannel(bob.address, VER), ferdie);
if (textOpened.dispatchError) throw new Error(`openChannel failed: ${textOpened.dispatchError}`);
const textChannel = textOpened.events.find(({ event }) => api.events.feeSettlement.ChannelOpened.is(event)).event.data.channel;
const textClient = new ServingClient({ url, pair: ferdie, genesisHash: api.genesisHash, channel: textChannel.toU8a(), kernel: charlm, pricePerRow: textPrice, provider: bob.publicKey });
const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', fetch: textClient.openaiFetch(), maxRetries: 0 });
const prompt = 'The validator checks';
const MAX_TOKENS = 32;
const completion = await openai.completions.create({ model: charlm, prompt, max_tokens: MAX_TOKENS, temperature: 0 });
if (textClient.receipts.length !== 1) throw new Error('the completion came back without a receipt');

// Alice asks to close; Bob's daemon redeems at once, in one call.
const redeemedOn = (ch) => new Promise((resolve) => {
  api.query.system.events((records) => {
    for (const { event, phase } of records) {
      if (api.events.feeSettlement.VoucherRedeemed.is(event) && event.data.channel.eq(ch)) resolve({ event, phase, records });
    }
  });
});
const redeemed = redeemedOn(channel);
const textRedeemed = redeemedOn(textChannel);
const close = await signAndFinalize(api, api.tx.feeSettlement.requestClose(channel), alice);
if (close.dispatchError) throw new Error(`requestClose failed: ${close.dispatchError}`);
const textClose = await signAndFinalize(api, api.tx.feeSettlement.requestClose(textChannel), ferdie);
if (textClose.dispatchError) throw new Error(`requestClose failed: ${textClose.dispatchError}`);
const { event, phase, records } = await redeemed;
const text = (await textRedeemed).event.data;
if (text.nonce.toNumber() !== 1 || text.amount.toBigInt() !== textPrice * BigInt(MAX_TOKENS)) {
  throw new Error(`the completion's redeem paid ${text.amount} for ${text.nonce}; expected ${textPrice * BigInt(MAX_TOKENS)} for 1`);
}
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
console.log(`  completion       the char transformer (${charlm.slice(0, 18)}…) served as text, asked through the openai npm client by Ferdie on his own channel:`);
console.log(`                   ${JSON.stringify(prompt)} -> ${JSON.stringify(completion.choices[0].text)} (${completion.usage.completion_tokens} tokens, greedy, finish ${completion.choices[0].finish_reason}; the example kernel as scripts/kernels.py exports it, untrained); receipt verified`);
console.log(`                   redeemed on Ferdie's close: ${text.amount.toBigInt()} planck (${MAX_TOKENS} tokens × ${textPrice})`);
await api.disconnect();
process.exit(0);
