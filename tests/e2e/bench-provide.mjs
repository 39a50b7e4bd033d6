// Timing and load of the provider daemons on a dev node of its own (scripts/bench-provide.sh):
//  1. one inference job, committee 3: the block of each step from post to payment, next to the
//     first block the step could happen in, and seconds;
//  2. JOBS jobs in flight at once over PROVIDERS daemons: every job paid? any deadline missed?
//     CPU seconds and peak resident memory of each daemon (from /proc).
// Prints one JSON object. Usage: node bench-provide.mjs [PROVIDERS=6] [JOBS=20] (PROVIDERS ≥ 4: a
// committee is the provider and three verifiers).
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { findEvent, rawCid, readManifest, registerKernelTx, VER } from './lib.mjs';
import { ownChain, startProvider, startServe } from './providers.mjs';

const providers = Number(process.argv[2] || 6);
const jobs = Number(process.argv[3] || 20);
if (providers < 4) throw new Error('PROVIDERS must be at least 4: a committee is the provider and three verifiers');
const kernelDir = join(process.env.VERITY_KERNELS, 'digits');
const testSet = join(kernelDir, 'test.safetensors');
const { dir, node, api, acct, send, ev } = await ownChain('verity-bench-provide-');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const served = await startServe(join(dir, 'buyer'), [join(kernelDir, 'kernel.pt'), testSet]);
const kernel = findEvent(await send(registerKernelTx(api, readManifest(kernelDir).record), acct('//Bob')), 'aivmRegistry', 'KernelRegistered').data.kernel.toHex();
for (const who of ['//Bob', '//Ferdie']) await send(api.tx.marketplace.setEndpoint(served.endpoint.peer, served.endpoint.addrs), acct(who));
const uris = ['//Charlie', '//Dave', '//Eve', '//Alice//stash', '//Bob//stash', '//Charlie//stash', '//Dave//stash', '//Eve//stash'].slice(0, providers);
const daemons = await Promise.all(uris.map((suri, i) => startProvider({
  suri, dir: join(dir, `p${i}`), ws: node.ws, args: ['--price', (0.01 + i * 0.002).toFixed(3)],
})));
while ((await api.query.marketplace.offers.entries()).length < providers || (await api.query.proofOfCompute.verifiers()).length < providers) await sleep(1000);

const input = rawCid(readFileSync(testSet));
const post = async () => {
  const deadline = (await api.rpc.chain.getHeader()).number.toNumber() + 150;
  const evs = await send(api.tx.marketplace.postJob(kernel, 0, { Inference: { inputs: [input], committee: 3 } }, 360, 50n * VER / 1000n, deadline), acct('//Ferdie'));
  return findEvent(evs, 'marketplace', 'JobPosted').data.job.toNumber();
};
const done = (job) => ev('marketplace.JobCompleted', (d) => d.job.toNumber() === job)[0] || ev('marketplace.JobFailed', (d) => d.job.toNumber() === job)[0];

// 1. One job, step by step.
const t0 = Date.now();
const job = await post();
while (!done(job)) await sleep(500);
const posted = ev('marketplace.JobPosted', (d) => d.job.toNumber() === job)[0];
const assigned = ev('marketplace.TaskAssigned', (d) => d.job.toNumber() === job)[0];
const task = assigned.e.data.task.toNumber();
const accepted = ev('marketplace.TaskAccepted', (d) => d.task.toNumber() === task)[0];
const submitted = ev('marketplace.ResultSubmitted', (d) => d.task.toNumber() === task)[0];
const selected = ev('proofOfCompute.CommitteeSelected', (d) => d.subject.isTask && d.subject.asTask.toNumber() === task)[0];
const round = selected.e.data.round.toNumber();
const commits = ev('proofOfCompute.Committed', (d) => d.round.toNumber() === round);
const reveals = ev('proofOfCompute.Revealed', (d) => d.round.toNumber() === round);
const paid = done(job);
const b = (x) => x.block;
const steps = {
  allocation: { block: b(assigned), first_possible: b(posted) + 1 },
  accept: { block: b(accepted), first_possible: b(assigned) + 1 },
  compute_and_submit: { block: b(submitted), first_possible: b(accepted) + 1 },
  committee_draw: { block: b(selected), first_possible: b(submitted) + 2 },
  commit: { block: Math.max(...commits.map(b)), first_possible: b(selected) + 1, members: commits.length },
  reveal: { block: Math.max(...reveals.map(b)), first_possible: selected.e.data.commitEnd.toNumber() + 1, members: reveals.length },
  payment: { block: b(paid), first_possible: selected.e.data.revealEnd.toNumber() + 1 },
};
const single = {
  job, outcome: paid.e.method, blocks: b(paid) - b(posted), seconds: Math.round((paid.at - t0) / 1000),
  commit_window: selected.e.data.commitEnd.toNumber() - b(selected), reveal_window: selected.e.data.revealEnd.toNumber() - selected.e.data.commitEnd.toNumber(),
  steps,
  blocks_lost_by_workers: steps.accept.block - steps.accept.first_possible + steps.compute_and_submit.block - steps.compute_and_submit.first_possible
    + steps.commit.block - steps.commit.first_possible + steps.reveal.block - steps.reveal.first_possible,
};

// 2. Load: all jobs posted together.
const t1 = Date.now();
const ids = [];
for (let i = 0; i < jobs; i += 1) ids.push(await post());
while (!ids.every(done)) await sleep(1000);
const outcomes = ids.map((j) => done(j).e.method);
const proc = (pid) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(status.match(new RegExp(`${k}:\\s+(\\d+)`))[1]);
  return { cpu_s: (Number(stat[11]) + Number(stat[12])) / 100, peak_rss_mib: Math.round(kb('VmHWM') / 1024), rss_mib: Math.round(kb('VmRSS') / 1024) };
};
const load = {
  providers, jobs, seconds: Math.round((Date.now() - t1) / 1000),
  completed: outcomes.filter((o) => o === 'JobCompleted').length,
  failed: outcomes.filter((o) => o === 'JobFailed').length,
  deadline_missed: ev('marketplace.DeadlineMissed').length,
  rejected: ev('marketplace.TaskRejected').length,
  penalised: ev('proofOfCompute.Penalised').length,
  per_daemon: daemons.map((d) => ({ account: d.account.slice(0, 8), ...proc(d.proc.pid) })),
};
console.log(JSON.stringify({ single, load }, null, 1));
for (const d of daemons) await d.stop();
served.proc.kill();
await api.disconnect();
await node.stop();
if (process.env.VERITY_KEEP_LOGS) console.error(`logs in ${dir}`);
else rmSync(dir, { recursive: true, force: true });
process.exit(0);
