// Load on the paid inference server (scripts/bench-serve.sh), on a dev node of its own: Dave's
// daemon serves the digits kernel (`provide --serve`), Alice opens one channel per client, and
// each client sends paid requests back to back (voucher signed, receipt checked, as
// voucher.mjs's ServingClient does). For 1, 8 and 64 concurrent clients and 1 and 64 rows per
// request: requests/s, rows/s, p50/p99 latency, from the JS client (`phases`) and from the Rust
// buyer (`verity-worker buy load`, `native`); beside it, in the same run, the kernel's own
// batched throughput and the per-request cost of the voucher check (`bench-serve-raw`); then a
// soak at 8 native clients with the server's resident memory sampled.
// Prints one JSON object. Usage: node bench-serve.mjs [SECONDS_PER_PHASE=10] [SOAK_SECONDS=300]
import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findEvent, readManifest, registerKernelTx, signAndFinalize, VER } from './lib.mjs';
import { ownChain, putBlob, readSafetensors, startProvider, workerBin } from './providers.mjs';
import { channelId, ServingClient } from './voucher.mjs';

const phaseSecs = Number(process.argv[2] || 10);
const soakSecs = Number(process.argv[3] || 300);
const CLIENTS = [1, 8, 64];
const ROWS = [1, 64];
const kernelDir = join(process.env.VERITY_KERNELS, 'digits');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The anchor first, on an idle machine.
const { stdout } = await promisify(execFile)(workerBin(), ['bench-serve-raw', '--kernel', kernelDir, '--rows', '1,64,256', '--seconds', '3']);
const rawLines = stdout.trim().split('\n').map((l) => JSON.parse(l));
const raw = Object.fromEntries(rawLines.filter((l) => l.event === 'serve-raw').map((l) => [l.rows_per_pass, l.rows_per_s]));
const costs = rawLines.find((l) => l.event === 'serve-costs');

const { dir, node, api, acct } = await ownChain('verity-bench-serve-');
// Final before the server starts: it reads kernels from the finalized state.
const registered = await signAndFinalize(api, registerKernelTx(api, readManifest(kernelDir).record), acct('//Bob'));
const kernel = findEvent(registered.events, 'aivmRegistry', 'KernelRegistered').data.kernel.toHex();
await putBlob(join(dir, 'dave', 'store'), join(kernelDir, 'kernel.pt'));
const dave = await startProvider({
  suri: '//Dave', dir: join(dir, 'dave'), ws: node.ws,
  args: ['--capacity', '100', '--price', '0.012', '--no-verify', '--serve', '127.0.0.1:0', '--serve-kernel', kernel],
});
const url = await dave.serving;
let price;
for (;;) {
  const info = await (await fetch(`${url}/v1/info`)).json();
  if (info.kernels[0].price_per_row !== null) { price = BigInt(info.kernels[0].price_per_row); break; }
  await sleep(1000);
}
const alice = acct('//Alice');
const daveKey = acct('//Dave').publicKey;
const { opened } = (await api.query.feeSettlement.buyers(alice.address)).toJSON();
const n = Math.max(...CLIENTS);
const r = await signAndFinalize(api, api.tx.utility.batchAll(Array.from({ length: n }, () => api.tx.feeSettlement.openChannel(acct('//Dave').address, VER))), alice);
if (r.dispatchError) throw new Error('opening the channels failed');
const clients = Array.from({ length: n }, (_, i) => new ServingClient({
  url, pair: alice, genesisHash: api.genesisHash, channel: channelId(alice.publicKey, daveKey, opened + i), kernel, pricePerRow: price, provider: daveKey,
}));

const test = readSafetensors(readFileSync(join(kernelDir, 'test.safetensors')));
const [rowsInSet, width] = test.x.shape;
const input = (rows, at) => Array.from({ length: rows * width }, (_, j) => test.x.data[((at + Math.floor(j / width)) % rowsInSet) * width + (j % width)]);
const rss = () => Number(readFileSync(`/proc/${dave.proc.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]) * 1024;

/** `c` clients sending `rows`-row requests back to back for `secs`: latencies in ms. */
async function phase(c, rows, secs) {
  const end = Date.now() + secs * 1000;
  const lat = [];
  let refused = 0;
  await Promise.all(clients.slice(0, c).map(async (client, k) => {
    let at = k * 7;
    while (Date.now() < end) {
      const data = input(rows, at);
      at += rows;
      const t0 = process.hrtime.bigint();
      try {
        await client.infer([rows, width], data);
        lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
      } catch (e) {
        if (e.status !== 503) throw e;
        refused += 1;
        await sleep(50);
      }
    }
  }));
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  return {
    clients: c, rows_per_request: rows, requests: lat.length, refused_503: refused,
    requests_per_s: lat.length / secs, rows_per_s: (lat.length * rows) / secs,
    p50_ms: q(0.5), p99_ms: q(0.99),
  };
}

const phases = [];
for (const rows of ROWS) {
  for (const c of CLIENTS) {
    const p = await phase(c, rows, phaseSecs);
    p.ratio_to_raw_256 = p.rows_per_s / raw[256];
    phases.push(p);
    console.error(JSON.stringify(p));
  }
}

// The same phases from the Rust buyer (`verity-worker buy load`: Ferdie's channels, one per
// client, native sr25519 and HTTP), whose client costs microseconds where the JS client's cost
// milliseconds: what the server itself sustains.
// A buyer may hold at most 64 open channels: the soak's buyer is another account (Eve).
const buyLoad = async (suri, clients, rows, secs) => {
  const { stdout } = await promisify(execFile)(workerBin(), ['buy', 'load', '--node', node.ws, '--suri', suri,
    '--url', url, '--kernel', kernel, '--input', join(kernelDir, 'test.safetensors'),
    '--clients', clients.join(','), '--rows', rows.join(','), '--seconds', String(secs)], { maxBuffer: 1 << 24 });
  return stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.event === 'load');
};
const native = (await buyLoad('//Ferdie', CLIENTS, ROWS, phaseSecs)).map((p) => ({ ...p, ratio_to_raw_256: p.rows_per_s / raw[256] }));
for (const p of native) console.error(JSON.stringify(p));

// The soak: 8 native clients, 1 row, the server's memory sampled every 10 s.
const samples = [];
const soakEnd = Date.now() + soakSecs * 1000;
const sampler = (async () => { while (Date.now() < soakEnd) { samples.push(rss()); await sleep(10_000); } })();
const [soak] = await buyLoad('//Eve', [8], [1], soakSecs);
await sampler;
samples.push(rss());

console.log(JSON.stringify({
  raw_rows_per_s: raw,
  voucher_check_us: costs.voucher_check_us,
  hash_and_receipt_us: costs.hash_and_receipt_us,
  phases,
  native,
  soak: { ...soak, rss_mib: samples.map((b) => Math.round(b / 2 ** 20 * 10) / 10) },
}, null, 1));
await dave.stop('SIGKILL');
await api.disconnect();
await node.stop();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
