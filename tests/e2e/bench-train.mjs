// Training on chain against the same training off chain, in one run (scripts/bench-train.sh):
// a dev node of its own with WINDOW-block commit, reveal and epoch windows (sudo), three
// `verity-worker provide --train` daemons and three auditors, one DiLoCo job of EPOCHS epochs of
// the digits kernel from post to payment; then the same job off chain (three `verity-worker train`
// processes on the tasks' shards, the ring in task order). Reports the wall time per epoch on
// chain (between consecutive epochs' last commitments) and off chain (the whole run, process start
// and kernel load included, divided by the epochs: an upper bound), their ratio, post to payment,
// and whether every epoch's checkpoint CID is the same on and off chain. And what the audits cost
// against the training they check: the members' step time per epoch (their daemons' `epoch
// trained` lines, the step chain's upkeep included) beside the auditors' one-step replays
// (`audited step replayed`: the step alone, and the whole replay with its fetches and kernel
// load), with the cost the same audits had when each replayed from the epoch's start (the
// audited step's index + 1 steps at the measured step time) as the anchor.
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

  // The audits' cost beside the training's, from the daemons' logs (daemons[0] is the buyer's
  // server, then three trainers, then three auditors).
  const lines = (d, what) => d.log().split('\n').filter((l) => l.includes(what));
  const field = (line, key) => Number(line.match(new RegExp(`\\b${key}=([0-9.e-]+)`))?.[1]);
  const trained = daemons.slice(1, 4).flatMap((d) => lines(d, 'epoch trained'));
  const stepsS = trained.reduce((a, l) => a + field(l, 'steps_s'), 0);
  const chainS = trained.reduce((a, l) => a + field(l, 'chain_s'), 0);
  const replays = daemons.slice(4).flatMap((d) => lines(d, 'audited step replayed'));
  const stepMs = replays.map((l) => field(l, 'step_ms'));
  const replayMs = replays.map((l) => field(l, 'replay_ms'));
  const sum = (xs) => xs.reduce((a, b) => a + b, 0);
  const innerOf = (l) => field(l, 'step') % DIGITS_HYPER.innerSteps;
  const fromStartMs = replays.map((l, i) => (innerOf(l) + 1) * stepMs[i]);
  const memberStepMs = (stepsS * 1000) / (trained.length * DIGITS_HYPER.innerSteps);

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
    audits: {
      member_epochs: trained.length,
      member_step_ms: Number(memberStepMs.toFixed(2)),
      step_chain_share_of_member_steps: Number((chainS / stepsS).toFixed(3)),
      replays: replays.length,
      replayed_step_ms_mean: Number((sum(stepMs) / replays.length).toFixed(2)),
      replay_ms_mean: Number((sum(replayMs) / replays.length).toFixed(1)),
      overhead_steps_only: Number((sum(stepMs) / 1000 / stepsS).toFixed(3)),
      overhead_whole_replays: Number((sum(replayMs) / 1000 / stepsS).toFixed(3)),
      anchor_from_epoch_start_steps_only: Number((sum(fromStartMs) / 1000 / stepsS).toFixed(3)),
    },
  }, null, 1));
} finally {
  for (const d of daemons) await d.stop('SIGKILL');
  await api.disconnect();
  await node.stop();
  rmSync(dir, { recursive: true, force: true });
}
