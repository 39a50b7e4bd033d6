// The parts of the main loop that are processes, for the demo and the end-to-end tests: provider
// daemons (`verity-worker provide`), the buyer's blob server (`verity-worker serve`) and fetches
// (`verity-worker fetch`), and reading a safetensors output to score it.
import { execFile, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { ApiPromise, WsProvider } from '@polkadot/api';
import { Keyring } from '@polkadot/keyring';
import { base58Encode, cryptoWaitReady } from '@polkadot/util-crypto';
import { hexToU8a, stringToU8a, u8aToHex } from '@polkadot/util';
import { errorName, rawCid, signAndInclude, WS } from './lib.mjs';

const run = promisify(execFile);

export function workerBin() {
  const worker = process.env.VERITY_WORKER;
  if (!worker) throw new Error('VERITY_WORKER (the verity-worker binary) is not set');
  return worker;
}

/**
 * Starts `verity-worker provide` for `suri` with its data in `dir` (logs in `dir/provide.log`);
 * resolves once it printed its account. `args` are extra flags (e.g. `--price 0.012`, or
 * `--serve 127.0.0.1:0 --serve-kernel 0x…`, whose URL `serving` then resolves with).
 */
export async function startProvider({ suri, dir, args = [], bin = workerBin(), ws = WS, bond = true }) {
  mkdirSync(dir, { recursive: true });
  const log = createWriteStream(join(dir, 'provide.log'), { flags: 'a' });
  const flags = ['provide', '--node', ws, '--suri', suri, '--data', dir, ...(bond ? ['--bond'] : []), ...args];
  const proc = spawn(bin, flags, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info' },
  });
  proc.stderr.pipe(log);
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  let servingAt;
  let servingFailed;
  const serving = new Promise((resolve, reject) => { servingAt = resolve; servingFailed = reject; });
  serving.catch(() => {}); // only awaited with --serve
  proc.on('exit', (code) => servingFailed(new Error(`verity-worker provide (${suri}) exited with ${code} before serving; see ${dir}/provide.log`)));
  const account = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: proc.stdout });
    lines.on('line', (l) => {
      try {
        const ev = JSON.parse(l);
        if (ev.event === 'provider') resolve(ev.account);
        if (ev.event === 'serving') servingAt(`http://${ev.addr}`);
      } catch { /* not ours */ }
    });
    proc.on('exit', (code) => reject(new Error(`verity-worker provide (${suri}) exited with ${code}; see ${dir}/provide.log`)));
  });
  return {
    proc,
    account,
    dir,
    exited,
    /** With `--serve`: resolves with the inference server's base URL once it listens. */
    serving,
    /** What it logged so far. */
    log: () => readFileSync(join(dir, 'provide.log'), 'utf8'),
    /** Stops it with `signal` and waits for the exit. */
    async stop(signal = 'SIGINT') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

/**
 * The buyer's side of the blob exchange: `files` put into a store at `dir` and served over
 * libp2p. Resolves with `{ proc, addr, endpoint: { peer, addrs } }` (the endpoint as
 * `marketplace.setEndpoint` takes it).
 */
/** Stores `file` in the content store `dir` (a running `serve` of it serves it from then on). */
export async function putBlob(dir, file, bin = workerBin()) {
  await run(bin, ['put', '--store', dir, file]);
}

export async function startServe(dir, files, bin = workerBin()) {
  for (const f of files) await putBlob(dir, f, bin);
  const proc = spawn(bin, ['serve', '--store', dir, '--identity', `serve-${dir}`], { stdio: ['ignore', 'pipe', 'ignore'] });
  const lines = createInterface({ input: proc.stdout });
  const got = [];
  await new Promise((resolve, reject) => {
    lines.on('line', (l) => { got.push(l); if (got.length === 2) resolve(); });
    proc.on('exit', (code) => reject(new Error(`verity-worker serve exited with ${code}`)));
  });
  const ev = JSON.parse(got[1]);
  return { proc, addr: got[0], endpoint: { peer: ev.peer, addrs: ev.addrs } };
}

/** `/ip4/a.b.c.d/tcp/p/p2p/<id>` of an on-chain endpoint (ip4 and tcp addresses only). */
export function endpointAddr(endpoint) {
  const b = hexToU8a(endpoint.addrs[0].toHex ? endpoint.addrs[0].toHex() : endpoint.addrs[0]);
  let i = 0;
  let out = '';
  while (i < b.length) {
    const code = b[i++];
    if (code === 0x04) { out += `/ip4/${b.slice(i, i + 4).join('.')}`; i += 4; }
    else if (code === 0x06) { out += `/tcp/${(b[i] << 8) | b[i + 1]}`; i += 2; }
    else throw new Error(`unsupported multiaddr protocol ${code} in ${u8aToHex(b)}`);
  }
  const peer = hexToU8a(endpoint.peer.toHex ? endpoint.peer.toHex() : endpoint.peer);
  return `${out}/p2p/${base58Encode(peer)}`;
}

/**
 * The settings the tests and the main job train the digits kernel with (JSON in a training job's
 * `hyperparams`): DiLoCo, 50 inner steps of 128 samples (split over the group) per epoch.
 */
export const DIGITS_HYPER = { batch: 128, lr: 0.005, innerSteps: 50, outerLr: 0.7, outerMomentum: 0.9, seed: 7 };

/** A training job's kind and sample count: `epochs` epochs of `hyper` over `trainSet` (a file). */
export function trainingJob(trainSet, hyper, epochs, groupSize = 3) {
  const bytes = readFileSync(trainSet);
  return {
    samples: readSafetensors(bytes).y.shape[0],
    kind: { Training: { dataset: rawCid(bytes), hyperparams: u8aToHex(stringToU8a(JSON.stringify(hyper))), epochs, groupSize } },
  };
}

/**
 * The same training off chain: one `verity-worker train` process per shard (`{ first, len }`) on
 * loopback, DiLoCo with `hyper` for `epochs`, the ring in the shards' order (a chain job's task
 * order); resolves to each member's final report (`checkpoint`, `epochs`, `eval`).
 */
export async function trainLocally({ kernelDir, dir, shards, hyper, epochs, bin = workerBin() }) {
  const identity = (i) => `local-${dir}-${i}`;
  const ids = [];
  for (let i = 0; i < shards.length; i += 1) ids.push((await run(bin, ['peer-id', '--identity', identity(i)])).stdout.trim());
  const ports = [];
  for (let i = 0; i < shards.length; i += 1) ports.push(await freePort());
  const addr = (i) => `/ip4/127.0.0.1/tcp/${ports[i]}/p2p/${ids[i]}`;
  const settings = ['--mode', 'diloco', '--epochs', String(epochs), '--batch', String(hyper.batch), '--lr', String(hyper.lr),
    '--inner-steps', String(hyper.innerSteps), '--outer-lr', String(hyper.outerLr), '--outer-momentum', String(hyper.outerMomentum),
    '--data-seed', String(hyper.seed), ...ids.flatMap((id) => ['--ring', id])];
  return Promise.all(shards.map(async ({ first, len }, i) => {
    const peers = shards.flatMap((_, j) => (j === i ? [] : ['--peer', addr(j)]));
    const { stdout } = await run(bin, ['train', '--kernel', kernelDir, '--store', join(dir, `store-${i}`), '--identity', identity(i),
      '--listen', `/ip4/127.0.0.1/tcp/${ports[i]}`, ...peers, '--shard', `${first}:${len}`, ...settings], { maxBuffer: 64 << 20 });
    return stdout.trim().split('\n').map((l) => JSON.parse(l)).find((l) => l.event === 'done').report;
  }));
}

/**
 * `verity-worker export`: a new version of the kernel in `kernelDir` (registered by `owner`, an
 * SS58 address, who registers the version too) carrying `checkpoint`'s parameters, written to
 * `out`; the printed line (`id`, `archive`, `supersedes`, `checkpoint`) and the new record (what
 * `registerKernelTx` takes).
 */
export async function exportVersion(kernelDir, checkpoint, out, owner, bin = workerBin()) {
  const { stdout } = await run(bin, ['export', '--kernel', kernelDir, '--checkpoint', checkpoint, '--out', out, '--owner', owner]);
  const line = JSON.parse(stdout.trim().split('\n').at(-1));
  return { ...line, record: JSON.parse(readFileSync(join(out, 'kernel.json'))).record };
}

/** Fetches blob `cid` from the peer at `addr` into store `dir` (checked against the CID). */
export async function fetchBlob(dir, addr, cid, bin = workerBin()) {
  await run(bin, ['fetch', '--store', dir, '--identity', `fetch-${dir}`, '--peer', addr, '--cid', cid]);
  return join(dir, cid);
}

/** The tensors of a safetensors file: `{ name: { dtype, shape, data } }` (F32 and I64 only). */
export function readSafetensors(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  const base = 8 + headerLen;
  const out = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [start, end] = t.data_offsets;
    // A copy (a Buffer's own slice is a view of its whole, possibly pooled, memory).
    const raw = Uint8Array.prototype.slice.call(bytes, base + start, base + end);
    const data = t.dtype === 'F32' ? new Float32Array(raw.buffer)
      : t.dtype === 'I64' ? new BigInt64Array(raw.buffer)
        : (() => { throw new Error(`dtype ${t.dtype}`); })();
    out[name] = { dtype: t.dtype, shape: t.shape, data };
  }
  return out;
}

/** Share of rows of `logits` [n, k] whose arg-max is the label in `labels` [n]. */
export function accuracy(logits, labels) {
  const [n, k] = logits.shape;
  let right = 0;
  for (let r = 0; r < n; r += 1) {
    let best = 0;
    for (let c = 1; c < k; c += 1) if (logits.data[r * k + c] > logits.data[r * k + best]) best = c;
    if (BigInt(best) === BigInt(labels.data[r])) right += 1;
  }
  return { right, n };
}

/** A free TCP port on loopback. */
export function freePort() {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

/**
 * A dev node of its own (`verity-node --dev`, state in `dir`, so it can be stopped and started
 * again on the same port): `{ ws, stop(), start() }`.
 */
export async function startNode(dir) {
  const bin = process.env.VERITY_NODE;
  if (!bin) throw new Error('VERITY_NODE (the verity-node binary) is not set');
  const [rpc, p2p] = [await freePort(), await freePort()];
  const node = { ws: `ws://127.0.0.1:${rpc}`, proc: null };
  mkdirSync(dir, { recursive: true });
  node.start = async () => {
    const log = createWriteStream(join(dir, 'node.log'), { flags: 'a' });
    node.proc = spawn(bin, ['--dev', '--base-path', dir, '--rpc-port', String(rpc), '--listen-addr', `/ip4/127.0.0.1/tcp/${p2p}`,
      '--no-prometheus', '--no-telemetry', '--no-mdns'], { stdio: ['ignore', 'ignore', 'pipe'] });
    node.proc.stderr.pipe(log);
    node.exited = new Promise((resolve) => node.proc.on('exit', resolve));
    for (let i = 0; i < 120; i += 1) {
      const up = await fetch(`http://127.0.0.1:${rpc}`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'chain_getHeader', params: [] }),
      }).then((r) => r.ok, () => false);
      if (up) return;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`verity-node did not answer on ${rpc}; see ${dir}/node.log`);
  };
  node.stop = async () => { node.proc.kill('SIGINT'); await node.exited; };
  await node.start();
  return node;
}

/**
 * Every event of `sections` from each new best block on, in block order (one head's events are
 * read before the next's): an array that fills as blocks come, of `{ e, block, at }`.
 */
export async function followEvents(api, sections = ['marketplace', 'proofOfCompute']) {
  const log = [];
  let queue = Promise.resolve();
  await api.rpc.chain.subscribeNewHeads((h) => {
    queue = queue.then(async () => {
      for (const { event } of await (await api.at(h.hash)).query.system.events()) {
        if (sections.includes(event.section)) log.push({ e: event, block: h.number.toNumber(), at: Date.now() });
      }
    }).catch(() => {});
  });
  return log;
}

/**
 * A dev node of its own in a new temporary directory (`prefix…`), connected:
 * `{ dir, node, api, acct, send, log, ev }`. `send` includes a signed call and throws the
 * dispatch error's name; `log` gets every marketplace and proof-of-compute event with its block and
 * arrival time, in block order; `ev('section.Method', pred)` filters it.
 */
export async function ownChain(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const node = await startNode(join(dir, 'node'));
  await cryptoWaitReady();
  const api = await ApiPromise.create({ provider: new WsProvider(node.ws), noInitWarn: true });
  const keyring = new Keyring({ type: 'sr25519', ss58Format: api.registry.chainSS58 });
  const acct = (uri) => keyring.addFromUri(uri);
  const send = async (tx, signer) => {
    const r = await signAndInclude(api, tx, signer);
    if (r.dispatchError) throw new Error(errorName(api, r.dispatchError));
    return r.events;
  };
  const log = await followEvents(api);
  const ev = (m, pred = () => true) => log.filter(({ e }) => `${e.section}.${e.method}` === m && pred(e.data));
  return { dir, node, api, acct, send, log, ev };
}
