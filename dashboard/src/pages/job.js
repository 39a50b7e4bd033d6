// One job: its kernel, escrow and payments, and each task through accept → result → committee
// commit/reveal → verdict, with the output CIDs; a training job's epochs with their checkpoint
// CIDs, gradient roots and audits, and the trained model.
import { account, balance, block, cid, cidOf, dl, esc, hash, num, table } from '../format.js';
import { jobState } from './jobs.js';

const isTask = (subject, task) => subject.isTask && subject.asTask.toString() === task;

export async function render(ctx, idText) {
  const { api, at, history } = ctx;
  if (!/^\d+$/.test(idText ?? '')) return { title: 'Job', html: '<p class="error">No job id in the address: open one from the Jobs list.</p>' };
  const id = idText;
  const ofJob = (d) => d.job?.toString() === id;
  const [liveOpt, trainedOpt, epochEntries] = await Promise.all([
    at.query.marketplace.jobs(id),
    at.query.marketplace.trainedModels(id),
    at.query.proofOfCompute.epochHistory.entries(id),
  ]);
  const live = liveOpt.unwrapOr(null);
  const posted = history.find('marketplace', 'JobPosted', ofJob)[0];
  if (!live && !posted && epochEntries.length === 0) {
    return { title: `Job ${id}`, html: `<p class="error" data-missing>Job ${esc(id)} is not on chain now and not in the history read (${esc(history.coverage())}).</p>` };
  }
  const state = jobState(history, id, live);
  const assigned = history.find('marketplace', 'TaskAssigned', ofJob);
  const taskIds = [...new Set([...(live ? live.tasks.toArray().map(String) : []), ...assigned.map((e) => e.data.task.toString())])]
    .sort((a, b) => Number(a) - Number(b));
  const liveTasks = taskIds.length ? await at.query.marketplace.tasks.multi(taskIds) : [];
  const rounds = taskIds.length ? await at.query.proofOfCompute.taskRounds.multi(taskIds) : [];

  // The job's summary.
  const completed = history.find('marketplace', 'JobCompleted', ofJob).at(-1);
  const paidParts = history.find('marketplace', 'VerifiedTasksPaid', ofJob);
  const failed = history.find('marketplace', 'JobFailed', ofJob).at(-1);
  const cancelled = history.find('marketplace', 'JobCancelled', ofJob).at(-1);
  const kindText = live ? (live.kind.isTraining ? 'training' : 'inference') : (epochEntries.length ? 'training' : 'inference');
  const pairs = [
    ['state', `<span class="tag ${state.cls}" data-field="state">${esc(state.text)}</span>`],
    ['kind', esc(kindText)],
    ['buyer', (live ?? posted?.data ?? trainedOpt.unwrapOr(null)) ? account(live?.buyer ?? posted?.data.buyer ?? trainedOpt.unwrap().buyer) : '<span class="muted">reading the history…</span>'],
    ['kernel', (live ?? posted?.data ?? trainedOpt.unwrapOr(null)) ? hash(live?.kernel ?? posted?.data.kernel ?? trainedOpt.unwrap().kernel) : '<span class="muted">reading the history…</span>'],
    ['samples', num(live?.samples ?? posted?.data.work ?? 0)],
    ['escrow (budget)', balance(live?.budget ?? posted?.data.budget ?? 0)],
  ];
  if (live) {
    pairs.push(['max price per WU', balance(live.maxPrice)], ['deadline', block(live.deadline)]);
    if (live.kind.isTraining) {
      const t = live.kind.asTraining;
      pairs.push(['epochs × steps', `${num(t.epochs)} × ${num(t.steps)}`], ['group size', num(t.groupSize)], ['dataset', cid(t.dataset)]);
    }
  }
  if (posted) pairs.push(['posted', block(posted.block)]);
  for (const p of paidParts) pairs.push([`paid at ${'#' + p.block}`, `${balance(p.data.paid)} to providers, ${balance(p.data.verifiers)} to verifiers, ${balance(p.data.fee)} fee`]);
  if (completed) pairs.push(['completed', `${block(completed.block)}: ${balance(completed.data.paid)} to providers, ${balance(completed.data.verifiers)} to verifiers, ${balance(completed.data.fee)} protocol fee, ${balance(completed.data.refund)} refunded`]);
  if (failed) pairs.push(['failed', `${block(failed.block)}: ${esc(failed.data.reason.type)}, ${balance(failed.data.refund)} refunded`]);
  if (cancelled) pairs.push(['cancelled', `${block(cancelled.block)}: ${balance(cancelled.data.refund)} refunded`]);
  const trained = trainedOpt.unwrapOr(null);
  if (trained) pairs.push(['trained model', `${cid(trained.checkpoint)} after ${num(trained.epochs)} epochs${trained.version.isSome ? ', registered as kernel ' + hash(trained.version.unwrap()) : ''}`]);

  // Each task through its life.
  const taskRows = await Promise.all(taskIds.map(async (t, i) => {
    const lt = liveTasks[i].unwrapOr(null);
    const a = assigned.find((e) => e.data.task.toString() === t);
    const ofTask = (d) => d.task?.toString() === t;
    const accepted = history.find('marketplace', 'TaskAccepted', ofTask).at(-1);
    const submitted = history.find('marketplace', 'ResultSubmitted', ofTask).at(-1);
    const verified = history.find('marketplace', 'TaskVerified', ofTask).at(-1);
    const ended = ['TaskRejected', 'DeadlineMissed', 'TaskDeclined'].map((m) => history.find('marketplace', m, ofTask).at(-1)).filter(Boolean).sort((x, y) => x.block - y.block).at(-1);
    const selected = history.find('proofOfCompute', 'CommitteeSelected', (d) => isTask(d.subject, t)).at(-1);
    const roundId = rounds[i].isSome ? rounds[i].unwrap().toString() : selected?.data.round.toString();
    let committee = '<span class="muted">—</span>';
    if (roundId !== undefined) {
      const round = (await at.query.proofOfCompute.rounds(roundId)).unwrapOr(null);
      const members = round ? round.members.toArray().map(String) : (selected?.data.members.map(String) ?? []);
      const ofRound = (d) => d.round.toString() === roundId;
      const commits = round ? (await at.query.proofOfCompute.commits.keys(roundId)).length : history.find('proofOfCompute', 'Committed', ofRound).length;
      const reveals = round ? (await at.query.proofOfCompute.reveals.keys(roundId)).length : history.find('proofOfCompute', 'Revealed', ofRound).length;
      const accept = history.find('proofOfCompute', 'ResultAccepted', ofRound).at(-1);
      committee = `<span data-field="committee" data-round="${roundId}">round ${roundId}: ${members.length} members, <span data-field="commits">${commits}</span> committed, <span data-field="reveals">${reveals}</span> revealed${accept ? `, ${accept.data.agreeing.length} agreed` : ''}${round ? ` (commit until #${round.commitEnd}, reveal until #${round.revealEnd})` : ''}</span>`;
    }
    const stateText = lt ? lt.state.type : verified ? 'Verified' : ended ? ended.method.replace('Task', '') : submitted ? 'Submitted' : accepted ? 'Accepted' : 'Assigned';
    const steps = ['Assigned', 'Accepted', 'Submitted', 'Verified'];
    const reached = Math.max(0, steps.indexOf(stateText));
    const pipeline = steps.map((s, k) => `<span class="step ${k <= reached && steps.includes(stateText) ? 'done' : ''}">${s}</span>`).join('');
    const result = lt?.result?.isSome ? cid(lt.result) : verified ? cid(verified.data.result) : submitted ? cid(submitted.data.result) : '<span class="muted">—</span>';
    return {
      attrs: `data-task="${t}"`,
      cells: [
        `<span data-raw="${t}">${t}</span>`,
        account(lt?.provider ?? a?.data.provider ?? ''),
        num(lt?.samples ?? a?.data.samples ?? 0),
        balance(lt?.price ?? a?.data.price ?? 0),
        `<div class="pipeline" data-field="task-state" data-raw="${esc(stateText)}">${pipeline}${ended && !verified ? `<span class="tag bad">${esc(ended.method)}</span>` : ''}</div>`,
        committee,
        result,
      ],
    };
  }));

  // Training: each epoch's commits (checkpoint CID, steps, gradient root) and audits.
  let training = '';
  if (epochEntries.length) {
    const epochs = epochEntries.map(([k, v]) => [k.args[1].toNumber(), v.unwrap()]).sort((x, y) => x[0] - y[0]);
    const drawn = history.find('proofOfCompute', 'AuditsDrawn', ofJob);
    const passedIds = new Set(history.find('proofOfCompute', 'AuditPassed').map((e) => e.data.audit.toString()));
    const invalid = history.find('proofOfCompute', 'EpochInvalidated', ofJob);
    const rows = epochs.flatMap(([e, rec]) => rec.commits.toArray().map(([task, c], k) => {
      const audits = drawn.filter((d) => d.data.epoch.toNumber() === e).flatMap((d) => d.data.audits.toArray())
        .filter(([, at]) => at.toString() === task.toString());
      const auditText = audits.length
        ? audits.map(([aid, , step]) => `audit ${aid} (step ${step}) ${passedIds.has(aid.toString()) ? '<span class="tag ok">passed</span>' : invalid.some((x) => x.data.epoch.toNumber() === e && x.data.task.toString() === task.toString()) ? '<span class="tag bad">failed</span>' : '<span class="tag wait">open</span>'}`).join('<br>')
        : '<span class="muted">none drawn</span>';
      return {
        attrs: `data-epoch="${e}"`,
        cells: [
          k === 0 ? `<b>${e}</b>` : '',
          k === 0 ? `${num(rec.passed)} / ${num(rec.audits)}` : '',
          `task ${task}`,
          cid(c.checkpoint),
          num(c.steps),
          hash(c.root),
          auditText,
        ],
      };
    }));
    training = `<h3>Epochs</h3>${table(['epoch', 'audits passed', 'member', 'checkpoint', 'steps', 'gradient root', 'audits'], rows, 'no epoch committed yet', 'data-epochs')}`;
  }

  const canCancel = live && ctx.account && live.buyer.toString() === ctx.account.address;
  const html = `${dl(pairs)}
    ${canCancel ? `<p><button data-action="cancel" data-job="${id}">cancel this job</button></p>` : ''}
    <h3>Tasks</h3>${table(['task', 'provider', 'samples', 'price per WU', 'state', 'committee', 'result (output CID)'], taskRows, 'no task assigned yet', 'data-tasks')}
    ${training}
    <h3>Events</h3>${events(history, id, taskIds)}`;
  return { title: `Job ${id}`, html };
}

/** One event's fields, short: accounts, hashes and CIDs abbreviated. */
function fields(e) {
  return Object.entries(e.data).map(([name, v]) => {
    let text;
    if (v?.codec && v?.digest) text = cidOf(v).slice(0, 14) + '…';
    else if (v?.isTask !== undefined) text = v.isTask ? `task ${v.asTask}` : `audit ${v.asAudit}`;
    else text = v?.toString() ?? '';
    if (text.length > 24) text = text.slice(0, 12) + '…';
    return `${name} ${text}`;
  }).join(', ');
}

/** The job's events, newest first; a run of the same event in one block is one row. */
function events(history, id, taskIds) {
  const tasks = new Set(taskIds);
  const rounds = new Set(history.find('proofOfCompute', 'CommitteeSelected', (d) => d.subject.isTask && tasks.has(d.subject.asTask.toString())).map((e) => e.data.round.toString()));
  const mine = history.events.filter((e) => {
    const d = e.data;
    if (e.section !== 'marketplace' && e.section !== 'proofOfCompute') return false;
    return d.job?.toString() === id || (d.task && tasks.has(d.task.toString())) || (d.round && rounds.has(d.round.toString()));
  }).reverse();
  const runs = [];
  for (const e of mine) {
    const last = runs.at(-1);
    if (last && last.block === e.block && last.method === e.method && last.section === e.section) last.count += 1;
    else runs.push({ ...e, count: 1 });
  }
  const rows = runs.slice(0, 40).map((e) => [
    block(e.block),
    `<code>${e.section}.${e.method}</code>${e.count > 1 ? ` × ${e.count}` : ''}`,
    `<small>${esc(fields(e))}${e.count > 1 ? ', …' : ''}</small>`,
  ]);
  return table(['block', 'event', 'fields (the first of a run)'], rows, 'none in the history read', 'data-job-events');
}

export const actions = {
  cancel: (ctx, data) => ctx.api.tx.marketplace.cancelJob(data.job),
};
