// Paid online inference against the real node: Dave's provider daemon serves the digits kernel
// over HTTP (`verity-worker provide --serve`), Alice pays each request with a voucher on a
// payment channel (tests/e2e/voucher.mjs's ServingClient), every response's receipt is checked,
// and the daemon redeems everything answered in one call. Bad requests get their status and
// reason and run nothing; a server killed between responses redeems what it answered once it
// is back. The char transformer is served as text too: the `openai` package's client, unchanged
// but for the fetch that adds the vouchers, gets completions whose greedy text is the kernel's
// own (PyTorch decoding the same archive). Its own dev node: the daemon is killed and restarted,
// and channels are closed.
//   VERITY_WORKER   the worker
//   VERITY_KERNELS  kernels exported by scripts/kernels.py
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { hexToU8a, u8aToHex } from '@polkadot/util';
import { findEvent, readManifest, registerKernelTx, signAndFinalize, VER, workerInfer } from './lib.mjs';
import { freePort, ownChain, putBlob, readSafetensors, startProvider, workerBin } from './providers.mjs';
import {
  channelId, encodeSignature, encodeVoucher, ServingClient, ServingError, signVoucher, verifyReceipt, VoucherLog,
} from './voucher.mjs';

const execFileP = promisify(execFile);

const kernelDir = join(process.env.VERITY_KERNELS || '', 'digits');
const charlmDir = join(process.env.VERITY_KERNELS || '', 'charlm');
const REQUESTS = 1000;
const DEPOSIT = VER; // 1 VER: 1,000 requests at 228 planck each use a fraction of it
let chain;
let kernel;
let charlm;
let dave;
let url;
let metricsPort;
let price;
let test_x;
let test_y;
let batchOut;
const daveArgs = () => ['--capacity', '100', '--price', '0.012', '--no-verify', '--serve', '127.0.0.1:0',
  '--serve-kernel', kernel, '--serve-text', `${charlm}=${join(charlmDir, 'kernel.json')}`, '--metrics', `127.0.0.1:${metricsPort}`, '--redeem-every', '100000'];

async function startDave() {
  dave = await startProvider({ suri: '//Dave', dir: join(chain.dir, 'dave'), args: daveArgs(), ws: chain.node.ws });
  url = await dave.serving;
}

async function until(what, cond, ms = 120_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Requests the server answered, from its metrics. */
async function served() {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const m = text.match(/serve_requests_total\{outcome="served"\} (\d+)/);
  return m ? Number(m[1]) : 0;
}

async function openChannel(buyer) {
  const { opened } = (await chain.api.query.feeSettlement.buyers(buyer.address)).toJSON();
  const r = await signAndFinalize(chain.api, chain.api.tx.feeSettlement.openChannel(chain.acct('//Dave').address, DEPOSIT), buyer);
  assert.equal(r.dispatchError, null);
  const id = findEvent(r.events, 'feeSettlement', 'ChannelOpened').data.channel.toU8a();
  assert.equal(u8aToHex(id), u8aToHex(channelId(buyer.publicKey, chain.acct('//Dave').publicKey, opened)));
  return id;
}

const clientFor = (buyer, channel) => new ServingClient({
  url, pair: buyer, genesisHash: chain.api.genesisHash, channel, kernel, pricePerRow: price,
  provider: chain.acct('//Dave').publicKey,
});

const redeemedOn = (channel) => chain.log.filter(({ e }) => e.section === 'feeSettlement' && e.method === 'VoucherRedeemed'
  && u8aToHex(e.data.channel.toU8a()) === u8aToHex(channel)).map(({ e }) => e.data);

before(async () => {
  chain = await ownChain('verity-serve-');
  // Fee-settlement events too.
  await chain.api.query.system.events((records) => {
    for (const { event } of records) if (event.section === 'feeSettlement') chain.log.push({ e: event });
  });
  const r = await signAndFinalize(chain.api, registerKernelTx(chain.api, readManifest(kernelDir).record), chain.acct('//Bob'));
  kernel = findEvent(r.events, 'aivmRegistry', 'KernelRegistered').data.kernel.toHex();
  const t = await signAndFinalize(chain.api, registerKernelTx(chain.api, readManifest(charlmDir).record), chain.acct('//Bob'));
  charlm = findEvent(t.events, 'aivmRegistry', 'KernelRegistered').data.kernel.toHex();
  // Dave has the archives in his store (a provider fetches them from peers otherwise).
  await putBlob(join(chain.dir, 'dave', 'store'), join(kernelDir, 'kernel.pt'));
  await putBlob(join(chain.dir, 'dave', 'store'), join(charlmDir, 'kernel.pt'));
  metricsPort = await freePort();
  await startDave();
  const test = readSafetensors(readFileSync(join(kernelDir, 'test.safetensors')));
  test_x = test.x;
  test_y = test.y;
  // The same rows run as one batch job by `verity-worker infer`: what the answers must match.
  const store = join(chain.dir, 'infer-store');
  const inf = await workerInfer(kernelDir, join(kernelDir, 'test.safetensors'), store);
  batchOut = readSafetensors(readFileSync(join(store, inf.output_cid))).output;
});

after(async () => {
  await dave?.stop('SIGKILL');
  await chain?.api.disconnect();
  if (chain) await chain.node.stop();
  if (chain && !process.env.VERITY_KEEP_LOGS) rmSync(chain.dir, { recursive: true, force: true });
});

const row = (i) => {
  const [n, d] = test_x.shape;
  const r = i % n;
  return Array.from(test_x.data.subarray(r * d, (r + 1) * d));
};

test('the server prices a row from Dave\'s offer on chain and publishes its address with his endpoint', async () => {
  const info = await until('the offer on chain', async () => {
    const i = await (await fetch(`${url}/v1/info`)).json();
    return i.kernels.every((k) => k.price_per_row !== null) && i;
  });
  const digits = info.kernels.find((k) => k.id === kernel);
  const { inferenceFlops } = (await chain.api.query.aivmRegistry.kernels(kernel)).unwrap().spec.toJSON();
  const offerId = (await chain.api.query.marketplace.providerOffers(chain.acct('//Dave').address, 0)).unwrap();
  const perWu = (await chain.api.query.marketplace.offers(offerId)).unwrap().price.asFixed.toBigInt();
  price = (BigInt(inferenceFlops) * perWu + 10n ** 12n - 1n) / 10n ** 12n;
  assert.equal(BigInt(digits.price_per_row), price);
  assert.equal(digits.completions, false);
  assert.equal(info.kernels.find((k) => k.id === charlm).completions, true);
  assert.equal(info.genesis, chain.api.genesisHash.toHex());
  assert.equal(info.provider, chain.acct('//Dave').address);
  const endpoint = (await until('the endpoint', async () => (await chain.api.query.marketplace.endpoints(chain.acct('//Dave').address)).unwrapOr(null))).toJSON();
  const port = new URL(url).port;
  // /ip4/127.0.0.1/tcp/PORT/http as multiaddr bytes: 0x04 7f000001 06 port(be16) e003.
  const http = `0x047f00000106${Number(port).toString(16).padStart(4, '0')}e003`;
  assert.ok(endpoint.addrs.includes(http), `${http} among ${endpoint.addrs}`);
});

let alice;
let channelA;
let clientA;
test(`${REQUESTS} paid requests are answered, each with a receipt that verifies; the answers are the kernel's`, async () => {
  alice = chain.acct('//Alice');
  channelA = await openChannel(alice);
  clientA = clientFor(alice, channelA);
  let worst = 0;
  for (let i = 0; i < REQUESTS; i += 1) {
    const { output, receipt } = await clientA.infer([1, 64], row(i));
    assert.equal(receipt.nonce, i + 1);
    assert.equal(receipt.cumulative, price * BigInt(i + 1));
    const k = batchOut.shape[1];
    const r = i % batchOut.shape[0];
    for (let c = 0; c < k; c += 1) worst = Math.max(worst, Math.abs(output.data[c] - batchOut.data[r * k + c]));
  }
  assert.equal(clientA.receipts.length, REQUESTS);
  assert.ok(worst < 1e-4, `served logits within 1e-4 of the batch job's (worst ${worst})`);
  assert.equal(await served(), REQUESTS);
});

test('bad requests get their status and reason, and nothing runs', async () => {
  const before = await served();
  const body = JSON.stringify({ input: { shape: [1, 64], data: row(0) } });
  const post = async (headers, b = body, k = kernel) => {
    const res = await fetch(`${url}/v1/kernels/${k}/infer`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: b });
    return [res.status, (await res.json()).error];
  };
  // A voucher Alice would really send next, to tamper with.
  const next = () => {
    const log = new VoucherLog(channelA, { cumulative: clientA.log.cumulative });
    for (const r of clientA.log.requests) log.append(r);
    return log;
  };
  const signed = (v, pair = alice, genesis = chain.api.genesisHash) => ({
    'verity-voucher': u8aToHex(encodeVoucher(v)),
    'verity-signature': u8aToHex(encodeSignature(signVoucher(pair, genesis, v))),
  });
  const { requestHash } = await import('./voucher.mjs');
  const nonce = clientA.log.requests.length + 1;
  const hash = requestHash(channelA, nonce, kernel, body);
  const good = next().next(hash, price);
  assert.deepEqual(await post({}), [402, 'no_voucher']);
  assert.deepEqual(await post(signed(good, chain.acct('//Bob'))), [401, 'bad_signature'], 'forged: signed by Bob');
  assert.deepEqual(await post(signed(good, alice, new Uint8Array(32).fill(7))), [401, 'bad_signature'], 'signed for another chain');
  assert.deepEqual(await post(signed(next().next(hash, price - 1n))), [402, 'underpaid']);
  assert.deepEqual(await post(signed(next().next(hash, DEPOSIT))), [402, 'above_deposit']);
  // Replaying the last answered request's voucher.
  const last = clientA.log.requests.length;
  const replay = new VoucherLog(channelA);
  for (const r of clientA.log.requests.slice(0, last - 1)) replay.append(r);
  replay.cumulative = price * BigInt(last - 1);
  const oldBody = JSON.stringify({ input: { shape: [1, 64], data: row(last - 1) } });
  const old = replay.next(requestHash(channelA, last, kernel, oldBody), price);
  assert.deepEqual(await post(signed(old), oldBody), [409, 'replayed_nonce']);
  assert.deepEqual(await post(signed(good), JSON.stringify({ input: { shape: [1, 63], data: row(0).slice(1) } })), [400, 'malformed_tensor']);
  assert.deepEqual(await post(signed(good), JSON.stringify({ input: { shape: [1, 64], data: ['x', ...row(0).slice(1)] } })), [400, 'malformed_request']);
  assert.deepEqual(await post(signed(good), 'x'.repeat(2 * 1024 * 1024)), [413, 'body_too_large']);
  assert.deepEqual(await post(signed(good), body, `0x${'00'.repeat(32)}`), [404, 'unknown_kernel']);
  // A channel that is not on chain (checked against the node, then refused with nothing kept).
  const madeUp = new Uint8Array(32).fill(0x11);
  const stray = new VoucherLog(madeUp).next(requestHash(madeUp, 1, kernel, body), price);
  assert.deepEqual(await post(signed(stray)), [404, 'unknown_channel'], 'a channel that is not on chain');
  assert.equal(await served(), before, 'no bad request was answered');
  // And nothing moved: the good voucher is still the next one.
  assert.deepEqual(await post(signed(good)), [200, undefined]);
  clientA.log = next();
  clientA.log.next(hash, price);
});

test('a close request makes the server redeem at once: one redeem pays for every answer, balances exact', async () => {
  const answered = BigInt(clientA.log.requests.length);
  const heldBefore = (await chain.api.query.system.account(alice.address)).data.reserved.toBigInt();
  const r = await signAndFinalize(chain.api, chain.api.tx.feeSettlement.requestClose(channelA), alice);
  assert.equal(r.dispatchError, null);
  const [redeem] = await until('the redeem', () => redeemedOn(channelA).length > 0 && redeemedOn(channelA));
  assert.equal(redeemedOn(channelA).length, 1, 'one redeem');
  assert.equal(redeem.nonce.toBigInt(), answered);
  assert.equal(redeem.amount.toBigInt(), answered * price);
  assert.equal(redeem.provider.toString(), chain.acct('//Dave').address);
  const c = (await chain.api.query.feeSettlement.channels(channelA)).unwrap();
  assert.equal(c.paid.toBigInt(), answered * price);
  assert.equal(c.deposit.toBigInt() - c.paid.toBigInt(), DEPOSIT - answered * price);
  assert.equal((await chain.api.query.system.account(alice.address)).data.reserved.toBigInt(), heldBefore - answered * price);
  // A closing channel serves nothing more.
  await until('the server to see the close', async () => {
    try { await clientA.infer([1, 64], row(0)); return false; } catch (e) {
      if (!(e instanceof ServingError)) throw e;
      return e.reason === 'channel_closing';
    }
  });
});

test('killed between responses (SIGKILL) and restarted, the server redeems everything it answered', async () => {
  const ferdie = chain.acct('//Ferdie');
  const channel = await openChannel(ferdie);
  const client = clientFor(ferdie, channel);
  for (let i = 0; i < 50; i += 1) await client.infer([1, 64], row(i));
  await dave.stop('SIGKILL');
  assert.equal(redeemedOn(channel).length, 0, 'nothing redeemed before the kill');
  await startDave();
  const [redeem] = await until('the redeem after the restart', () => redeemedOn(channel).length > 0 && redeemedOn(channel));
  assert.equal(redeem.nonce.toNumber(), 50);
  assert.equal(redeem.amount.toBigInt(), 50n * price);
  // The restart compacted the journal: one snapshot line per channel (count, peaks, voucher).
  const journal = readFileSync(join(chain.dir, 'dave', 'serving.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(journal.every((l) => Array.isArray(l.peaks)), 'only snapshot lines');
  assert.equal(new Set(journal.map((l) => l.channel)).size, journal.length, 'one line per channel');
  assert.equal(journal.find((l) => l.channel === u8aToHex(channel)).count, 50);
  // The restarted server (on a new port) goes on where it left off.
  client.url = url;
  const { receipt } = await client.infer([1, 64], row(50));
  assert.equal(receipt.nonce, 51);
});

test('the Rust buyer (verity-worker buy) opens a channel, pays 100 requests in two runs, keeps receipts that verify; one redeem pays them', async () => {
  const buy = async (...args) => {
    const { stdout } = await execFileP(workerBin(), ['buy', ...args], { maxBuffer: 1 << 26 });
    return stdout.trim().split('\n').map((l) => JSON.parse(l));
  };
  const eve = chain.acct('//Eve');
  const daveAddr = chain.acct('//Dave').address;
  const [{ channel }] = await buy('open', '--node', chain.node.ws, '--suri', '//Eve', '--provider', daveAddr, '--deposit', '1');
  const { opened } = (await chain.api.query.feeSettlement.buyers(eve.address)).toJSON();
  assert.equal(channel, u8aToHex(channelId(eve.publicKey, chain.acct('//Dave').publicKey, opened - 1)));
  const receipts = join(chain.dir, 'eve-receipts.jsonl');
  const infer = (count, ...more) => buy('infer', '--node', chain.node.ws, '--suri', '//Eve', '--url', url, '--channel', channel,
    '--kernel', kernel, '--input', join(kernelDir, 'test.safetensors'), '--count', String(count), '--receipts', receipts, ...more);
  // The answers are the kernel's: each printed output is the batch job's row (request i carries
  // test row i - 1), and the buyer's score is the batch job's argmax against the labels.
  const k = batchOut.shape[1];
  const argmax = (r) => { let b = 0; for (let c = 1; c < k; c += 1) if (batchOut.data[r * k + c] > batchOut.data[r * k + b]) b = c; return b; };
  const expectedAccuracy = (from, to) => { let right = 0; for (let r = from; r < to; r += 1) right += Number(argmax(r) === Number(test_y.data[r])); return right / (to - from); };
  const firstRun = await infer(60, '--print-outputs');
  let worst = 0;
  for (const { nonce, output } of firstRun.filter((l) => l.event === 'answer')) {
    for (let c = 0; c < k; c += 1) worst = Math.max(worst, Math.abs(output.data[c] - batchOut.data[(nonce - 1) * k + c]));
  }
  assert.equal(firstRun.filter((l) => l.event === 'answer').length, 60);
  assert.ok(worst < 1e-4, `the Rust buyer's answers within 1e-4 of the batch job's (worst ${worst})`);
  const first = firstRun.at(-1);
  assert.equal(first.answered, 60);
  assert.ok(Math.abs(first.accuracy - expectedAccuracy(0, 60)) < 1e-9, `accuracy ${first.accuracy} vs ${expectedAccuracy(0, 60)}`);
  // The second run goes on from the receipts file: nonces 61..100, test rows 60..99.
  const second = (await infer(40)).at(-1);
  assert.equal(second.requests_on_channel, 100);
  assert.equal(BigInt(second.cumulative), 100n * price);
  assert.ok(Math.abs(second.accuracy - expectedAccuracy(60, 100)) < 1e-9, `accuracy ${second.accuracy} vs ${expectedAccuracy(60, 100)}`);
  const kept = readFileSync(receipts, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(kept.map((r) => r.nonce), Array.from({ length: 100 }, (_, i) => i + 1));
  for (const r of kept) {
    assert.ok(r.verified);
    assert.ok(verifyReceipt(chain.api.genesisHash, hexToU8a(r.request), hexToU8a(r.output_digest), hexToU8a(r.signature), chain.acct('//Dave').publicKey), `receipt ${r.nonce}`);
  }
  // Someone else's channel is refused before anything is sent.
  await assert.rejects(buy('infer', '--node', chain.node.ws, '--suri', '//Eve', '--url', url, '--channel', u8aToHex(channelA),
    '--kernel', kernel, '--input', join(kernelDir, 'test.safetensors'), '--count', '1', '--receipts', join(chain.dir, 'x.jsonl')),
  /not this signer's/);
  // Everything the Rust buyer paid is redeemed in one call once Eve asks to close.
  const r = await signAndFinalize(chain.api, chain.api.tx.feeSettlement.requestClose(channel), eve);
  assert.equal(r.dispatchError, null);
  const [redeem] = await until('the redeem', () => redeemedOn(hexToU8a(channel)).length > 0 && redeemedOn(hexToU8a(channel)));
  assert.equal(redeem.nonce.toNumber(), 100);
  assert.equal(redeem.amount.toBigInt(), 100n * price);
});

/** The kernel's own greedy decoding of `prompt`, by PyTorch on the same archive and vocabulary. */
async function torchGreedy(prompt, n) {
  const script = `
import json, sys, torch
d, prompt, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
m = json.load(open(d + "/kernel.json")); vocab, ctx = m["vocab"], m["context"]
torch.use_deterministic_algorithms(True)
model = torch.jit.load(d + "/kernel.pt").eval()
ids, out = [vocab.index(c) for c in prompt], []
with torch.no_grad():
    for _ in range(n):
        w = ids[-ctx:]
        w = [vocab.index(" ")] * (ctx - len(w)) + w
        nxt = int(torch.argmax(model(torch.tensor([w]))[0, -1]))
        ids.append(nxt); out.append(nxt)
print("".join(vocab[i] for i in out), end="")
`;
  const { stdout } = await execFileP('python3', ['-c', script, charlmDir, prompt, String(n)]);
  return stdout;
}

test('the char transformer served as text: the openai client (unchanged but for its fetch) gets paid completions, whole and streamed, greedy text is the kernel\'s own, bad ones refused; one redeem pays max_tokens rows each', async () => {
  const info = await (await fetch(`${url}/v1/info`)).json();
  const perRow = BigInt(info.kernels.find((k) => k.id === charlm).price_per_row);
  const charlie = chain.acct('//Charlie');
  const channel = await openChannel(charlie);
  const client = new ServingClient({
    url, pair: charlie, genesisHash: chain.api.genesisHash, channel, kernel: charlm, pricePerRow: perRow,
    provider: chain.acct('//Dave').publicKey,
  });
  const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', fetch: client.openaiFetch(), maxRetries: 0 });
  assert.deepEqual((await openai.models.list()).data.map((m) => m.id), [charlm]);
  const prompt = 'The validator checks';
  const greedy = await openai.completions.create({ model: charlm, prompt, max_tokens: 24, temperature: 0 });
  assert.equal(greedy.object, 'text_completion');
  assert.equal(greedy.choices[0].finish_reason, 'length');
  assert.equal(greedy.usage.completion_tokens, 24);
  assert.equal(greedy.usage.prompt_tokens, prompt.length);
  assert.equal(greedy.choices[0].text, await torchGreedy(prompt, 24), 'the kernel\'s own greedy text');
  // A stop string ends the text before it, at the same price.
  const text = greedy.choices[0].text;
  const stop = [...text].find((c, i) => i > 0 && text.indexOf(c) === i);
  if (stop) {
    const cut = await openai.completions.create({ model: charlm, prompt, max_tokens: 24, temperature: 0, stop });
    assert.equal(cut.choices[0].text, text.slice(0, text.indexOf(stop)));
    assert.equal(cut.choices[0].finish_reason, 'stop');
  }
  // Sampling is seeded by the request (and `seed`): it runs and is paid like any other.
  const sampled = await openai.completions.create({ model: charlm, prompt: ['A worker'], max_tokens: 8, temperature: 0.8, seed: 3 });
  assert.equal(sampled.usage.completion_tokens, 8);
  // Streamed (server-sent events, as OpenAI streams): the same greedy text in pieces as it is
  // generated, the receipt in the last chunk, checked; with a stop string nothing past it is sent.
  const streamed = async (body) => {
    const pieces = [];
    let last;
    for await (const c of await openai.completions.create({ ...body, stream: true })) {
      pieces.push(c.choices[0].text);
      last = c;
    }
    return { pieces, last };
  };
  const receiptsBefore = client.receipts.length;
  const whole = await streamed({ model: charlm, prompt, max_tokens: 24, temperature: 0 });
  assert.equal(whole.pieces.join(''), text);
  assert.ok(whole.pieces.filter(Boolean).length >= 2, `streamed in pieces: ${JSON.stringify(whole.pieces)}`);
  assert.equal(whole.last.choices[0].finish_reason, 'length');
  assert.equal(whole.last.usage.completion_tokens, 24);
  if (stop) {
    const cut = await streamed({ model: charlm, prompt, max_tokens: 24, temperature: 0, stop });
    assert.equal(cut.pieces.join(''), text.slice(0, text.indexOf(stop)));
    assert.equal(cut.last.choices[0].finish_reason, 'stop');
  }
  assert.equal(client.receipts.length, receiptsBefore + (stop ? 2 : 1), 'each stream\'s receipt checked and kept');
  const paidSoFar = client.log.cumulative;
  const answered = client.receipts.length;
  // Refused, each with its reason, nothing run, the voucher forgotten.
  const before = await served();
  const refused = async (body, status, reason) => {
    await assert.rejects(openai.completions.create(body), (e) => {
      assert.equal(e.status, status, `${JSON.stringify(body)}: ${e.message}`);
      assert.equal(e.error.code, reason);
      assert.ok(e.error.message.length > 10, 'a readable message');
      return true;
    });
  };
  await refused({ model: charlm, prompt: 'The välidator', max_tokens: 4 }, 400, 'unknown_characters');
  await refused({ model: charlm, prompt, max_tokens: 4, n: 2 }, 400, 'unsupported_parameter');
  await refused({ model: charlm, prompt, max_tokens: 4096 }, 400, 'invalid_max_tokens');
  const raw = async (body, headers = {}) => {
    const res = await fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    return [res.status, (await res.json()).error.code];
  };
  assert.deepEqual(await raw({ model: charlm, prompt, max_tokens: 4 }), [402, 'no_voucher']);
  assert.deepEqual(await raw({ model: kernel, prompt, max_tokens: 4 }), [400, 'not_a_text_kernel']);
  assert.equal(await served(), before, 'no refused completion ran');
  assert.equal(client.log.cumulative, paidSoFar);
  // The next completion pays with the next nonce; then one redeem pays max_tokens rows each.
  const last = await openai.completions.create({ model: charlm, prompt, max_tokens: 5, temperature: 0 });
  assert.equal(last.choices[0].text, text.slice(0, 5), 'the same greedy start');
  assert.equal(client.receipts.length, answered + 1);
  const total = perRow * BigInt(2 * (24 + (stop ? 24 : 0)) + 8 + 5);
  assert.equal(client.log.cumulative, total);
  const r = await signAndFinalize(chain.api, chain.api.tx.feeSettlement.requestClose(channel), charlie);
  assert.equal(r.dispatchError, null);
  const [redeem] = await until('the redeem', () => redeemedOn(channel).length > 0 && redeemedOn(channel));
  assert.equal(redeem.nonce.toNumber(), client.receipts.length);
  assert.equal(redeem.amount.toBigInt(), total);
});
