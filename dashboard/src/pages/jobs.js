// Jobs: those live in storage and those the history saw posted, newest first, with their state.
import { account, balance, block, esc, hash, num, table } from '../format.js';

/** A job's state from storage (live) or from its last event. */
export function jobState(history, id, live) {
  const key = String(id);
  const last = (method) => history.find('marketplace', method, (d) => d.job.toString() === key).at(-1);
  if (live) {
    const queued = live.status.isQueued;
    return { text: queued ? 'queued' : 'running', cls: queued ? 'wait' : 'busy' };
  }
  if (last('JobCompleted')) return { text: 'completed', cls: 'ok' };
  if (last('JobCancelled')) return { text: 'cancelled', cls: '' };
  if (last('JobFailed')) return { text: `failed: ${last('JobFailed').data.reason.type}`, cls: 'bad' };
  return { text: 'ended', cls: '' };
}

export async function render(ctx) {
  const { api, at, history } = ctx;
  const live = new Map((await at.query.marketplace.jobs.entries()).map(([k, v]) => [k.args[0].toString(), v.unwrap()]));
  const posted = new Map(history.find('marketplace', 'JobPosted').map((e) => [e.data.job.toString(), e]));
  const ids = [...new Set([...live.keys(), ...posted.keys()])].sort((a, b) => Number(b) - Number(a));
  const rows = ids.map((id) => {
    const j = live.get(id);
    const p = posted.get(id);
    const kind = j ? (j.kind.isTraining ? 'training' : 'inference') : (history.find('proofOfCompute', 'EpochCommitted', (d) => d.job.toString() === id).length ? 'training' : 'inference');
    const state = jobState(history, id, j);
    return {
      attrs: `data-job="${id}"`,
      cells: [
        `<a href="#/job/${id}" data-raw="${id}">job ${id}</a>`,
        account(j?.buyer ?? p.data.buyer),
        hash(j?.kernel ?? p.data.kernel),
        esc(kind),
        num(j?.samples ?? p.data.work),
        balance(j?.budget ?? p.data.budget),
        p ? block(p.block) : '<span class="muted">before the history</span>',
        `<span class="tag ${state.cls}" data-field="state">${esc(state.text)}</span>`,
      ],
    };
  });
  const html = `<p class="muted">Live jobs from storage; finished ones from the events of ${esc(history.coverage())}.</p>
    <form data-go="job" class="inline"><input name="q" placeholder="job id" inputmode="numeric" aria-label="job id"><button>open</button></form>
    ${table(['job', 'buyer', 'kernel', 'kind', 'samples', 'budget', 'posted', 'state'], rows, 'no jobs yet', 'data-jobs')}`;
  return { title: 'Jobs', html };
}
