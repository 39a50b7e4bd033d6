// Training on chain against the same training off chain, in one run (scripts/bench-train.sh):
// a dev node of its own with WINDOW-block commit, reveal and epoch windows (sudo), three
// `verity-worker provide --train` daemons and three auditors, one DiLoCo job of EPOCHS epochs of
// the digits kernel from post to payment; then the same job off chain (three `verity-worker train`
// processes on the tasks' shards, the ring in task order). Reports the wall time per epoch on
// chain (between consecutive epochs' last commitments) and off chain (the whole run, process start
// and kernel load included, divided by the epochs: an upper bound), their ratio, post to payment,
// and whether every epoch's checkpoint CID is the same on and off chain.
// Prints one JSON object. Usage: node bench-train.mjs [EPOCHS=5] [WINDOW=3]
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { chainCidText, findEvent, readManifest, registerKernelTx, VER } from './lib.mjs';
import {
  DIGITS_HYPER, ownChain, startProvider, startServe, trainingJob, trainLocally,
} from './providers.mjs';

const epochs = Number(process.argv[2] || 5);
const window = Number(process.argv[3] || 3);
const kernelDir = join(process.env.VERITY_KERNELS, 'digits');
const trainSet = join(kernelDir, 'train.safetensors');
const { dir, node, api, acct, send, ev } = await ownChain('verity-bench-train-');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const daemons = [];
try {
  const poc = (await api.query.proofOfCompute.params()).unwrap().toJSON();
  await send(api.tx.sudo.sudo(api.tx.proofOfCompute.setParams({ ...poc, commitWindow: window, revealWindow: window, epochWindow: window })), acct('//Alice'));
  const market = (await api.query.marketplace.params()).unwrap().toJSON();
  await send(api.tx.sudo.sudo(api.tx.marketplace.setParams({ ...market, acceptWindow: Math.max(window, 3) })), acct('//Alice'));
  const served = await startServe(join(dir, 'buyer'), [join(kernelDir, 'kernel.pt'), trainSet]);
  daemons.push({ stop: async () => served.proc.kill() });
  const kernel = findEvent(await send(registerKernelTx(api, readManifest(kernelDir).record), acct('//Ferdie')), 'aivmRegistry', 'KernelRegistered').data.kernel.toHex();
  await send(api.tx.marketplace.setEndpoint(served.endpoint.peer, served.endpoint.addrs), acct('//Ferdie'));
  const roles = [
    ...['//Charlie', '//Dave', '//Eve'].map((suri) => ({ suri, args: ['--class', '1', '--train', '--price', '0.004'] })),
    ...['//Alice//stash', '//Bob//stash', '//Charlie//stash'].map((suri) => ({ suri, args: ['--class', '0', '--price', '0.012'] })),
  ];
  for (const [i, { suri, args }] of roles.entries()) {
    daemons.push(await startProvider({ suri, dir: join(dir, `p${i}`), ws: node.ws, args: ['--capacity', '1000', ...args] }));
  }
  while ((await api.query.proofOfCompute.verifiers()).length < roles.length) await sleep(1000);

  const { kind, samples } = trainingJob(trainSet, DIGITS_HYPER, epochs);
  const deadline = (await api.rpc.chain.getHeader()).number.toNumber() + 400;
  const t0 = Date.now();
  const posted = await send(api.tx.marketplace.postJob(kernel, 1, kind, samples, 50n * VER / 1000n, deadline), acct('//Ferdie'));
  const job = findEvent(posted, 'marketplace', 'JobPosted').data.job.toNumber();
  const end = () => ev('marketplace.JobCompleted', (d) => d.job.toNumber() === job)[0] || ev('marketplace.JobFailed', (d) => d.job.toNumber() === job)[0];
  while (!end() && Date.now() - t0 < 30 * 60_000) await sleep(500);
  const over = end();
  if (!over || over.e.method !== 'JobCompleted') throw new Error(`job ${job} did not complete: ${over ? over.e.data.reason : 'timed out'}`);

  // An epoch is on chain when its last member's commitment is in a block.
  const committed = ev('proofOfCompute.EpochCommitted', (d) => d.job.toNumber() === job);
  const lastOf = (epoch) => committed.filter(({ e }) => e.data.epoch.toNumber() === epoch).at(-1);
  const first = lastOf(0);
  const last = lastOf(epochs - 1);
  const perEpochChain = epochs > 1 ? (last.at - first.at) / 1000 / (epochs - 1) : null;
  const perEpochBlocks = epochs > 1 ? (last.block - first.block) / (epochs - 1) : null;

  const tasks = ev('marketplace.TaskAssigned', (d) => d.job.toNumber() === job).map(({ e }) => e.data);
  const shards = tasks.map((t) => ({ first: t.firstSample.toNumber(), len: t.samples.toNumber() }));
  const t1 = Date.now();
  const local = await trainLocally({ kernelDir, dir: join(dir, 'local'), shards, hyper: DIGITS_HYPER, epochs });
  const offChain = (Date.now() - t1) / 1000;
  const same = Array.from({ length: epochs }, (_, e) => chainCidText(lastOf(e).e.data.checkpoint))
    .every((cid, e) => local.every((r) => r.epochs[e].checkpoint === cid));

  console.log(JSON.stringify({
    epochs,
    window_blocks: window,
    hyper: DIGITS_HYPER,
    on_chain: {
      post_to_payment_s: Number(((over.at - t0) / 1000).toFixed(1)),
      per_epoch_s: perEpochChain && Number(perEpochChain.toFixed(1)),
      per_epoch_blocks: perEpochBlocks,
    },
    off_chain: { whole_run_s: Number(offChain.toFixed(1)), per_epoch_s_at_most: Number((offChain / epochs).toFixed(2)) },
    ratio_at_least: perEpochChain && Number((perEpochChain / (offChain / epochs)).toFixed(1)),
    same_checkpoints_on_and_off_chain: same,
  }, null, 1));
} finally {
  for (const d of daemons) await d.stop('SIGKILL');
  await api.disconnect();
  await node.stop();
  rmSync(dir, { recursive: true, force: true });
}
