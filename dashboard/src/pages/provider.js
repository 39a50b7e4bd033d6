// A provider's view (any account): stake and collateral, offers, endpoint, tasks, earnings and
// slashes, and the live figures of its worker when its metrics endpoint is given.
import { base58Encode } from '@polkadot/util-crypto';
import { account, balance, block, cid, dl, esc, multiaddr, num, table } from '../format.js';
import { accountOf } from './account.js';

/** Where a payment came from: the pallet whose event shares its extrinsic or hook. */
const SOURCES = {
  marketplace: 'jobs (provider and verifier pay)',
  feeSettlement: 'payment channels (vouchers)',
  proofOfCompute: 'proof of compute (bounties)',
};

/** Balance transfers to `who` made by Verity's pallets, with the pallet that made each. */
export function earnings(history, who) {
  const byPhase = new Map();
  for (const e of history.events) {
    const key = `${e.block}/${e.phase}`;
    if (!byPhase.has(key)) byPhase.set(key, []);
    byPhase.get(key).push(e);
  }
  const out = [];
  for (const group of byPhase.values()) {
    const source = Object.keys(SOURCES).find((s) => group.some((e) => e.section === s));
    if (!source) continue;
    for (const e of group) {
      if (e.section !== 'balances') continue;
      const to = (e.data.to ?? e.data.dest)?.toString();
      if (to === who) out.push({ block: e.block, source, amount: BigInt(e.data.amount.toString()) });
    }
  }
  return out;
}

export async function render(ctx, address) {
  const { at, history } = ctx;
  const { who, form, view } = accountOf(ctx, 'provider', 'Provider', address);
  if (view) return view;
  const [ledger, collateral, sys, endpoint, verifiers, offerKeys, liveTasks] = await Promise.all([
    at.query.stakingGovernance.ledgers(who),
    at.query.marketplace.collateral(who),
    at.query.system.account(who),
    at.query.marketplace.endpoints(who),
    at.query.proofOfCompute.verifiers(),
    at.query.marketplace.providerOffers.entries(who),
    at.query.marketplace.tasks.entries(),
  ]);
  const l = ledger.unwrapOr(null);
  const unlocking = l ? l.unlocking.toArray().map((c) => `${balance(c.value)} at ${block(c.unlockAt)}`).join(', ') : '';
  const earned = earnings(history, who);
  const total = earned.reduce((s, e) => s + e.amount, 0n);
  const bySource = Object.keys(SOURCES).map((s) => [s, earned.filter((e) => e.source === s).reduce((t, e) => t + e.amount, 0n)]).filter(([, v]) => v > 0n);
  const slashes = [
    ...history.find('stakingGovernance', 'Slashed', (d) => d.who.toString() === who).map((e) => [e.block, balance(e.data.amount), `stake slashed: ${e.data.reason.type}`]),
    ...history.find('proofOfCompute', 'Penalised', (d) => d.member.toString() === who).map((e) => [e.block, balance(e.data.amount), `committee penalty: ${e.data.reason.type} (round ${e.data.round})`]),
    ...history.find('marketplace', 'DeadlineMissed', (d) => d.provider.toString() === who).map((e) => [e.block, balance(e.data.penalty), `deadline missed (task ${e.data.task})`]),
  ].sort((a, b) => b[0] - a[0]);

  const pairs = [
    ['account', account(who, who)],
    ['free balance', `<span data-field="free">${balance(sys.data.free)}</span>`],
    ['active stake', `<span data-field="stake">${balance(l ? l.active : 0)}</span>${unlocking ? ` · unlocking ${unlocking}` : ''}`],
    ['collateral locked for tasks', balance(collateral)],
    ['verifier', verifiers.some((v) => v.toString() === who) ? '<span class="tag ok">registered</span>' : '<span class="muted">no</span>'],
    ['endpoint', endpoint.isSome ? endpointText(endpoint.unwrap()) : '<span class="muted">none published</span>'],
    ['earned', `<span data-field="earned">${balance(total)}</span> ${bySource.map(([s, v]) => `<small>${esc(SOURCES[s])}: ${balance(v)}</small>`).join(' ')} <small class="muted">over ${esc(history.coverage())}</small>`],
  ];

  const offerIds = offerKeys.map(([, id]) => id.unwrap().toString());
  const offers = offerIds.length ? await at.query.marketplace.offers.multi(offerIds) : [];
  // The provider itself (the header's account) can pause and resume its offers here.
  const own = ctx.account?.address === who;
  const offerRows = offers.map((o, i) => {
    const x = o.unwrapOr(null);
    if (!x) return null;
    const toggle = x.status.isActive
      ? `<button data-action="offerStatus" data-offer="${offerIds[i]}" data-status="Paused">pause</button>`
      : `<button data-action="offerStatus" data-offer="${offerIds[i]}" data-status="Active">resume</button>`;
    return {
      attrs: `data-offer="${offerIds[i]}"`,
      cells: [
        `<span data-raw="${offerIds[i]}">${offerIds[i]}</span>`,
        `class ${x.class}`,
        num(x.capacity),
        x.price.isFixed ? balance(x.price.asFixed) : 'follows the index',
        `<span class="tag ${x.status.isActive ? 'ok' : ''}" data-field="status">${x.status.type}</span>`,
        num(x.load),
        num(x.openTasks),
        num(x.supply),
        ...(own ? [toggle] : []),
      ],
    };
  }).filter(Boolean);

  const mine = new Map();
  for (const e of history.find('marketplace', 'TaskAssigned', (d) => d.provider.toString() === who)) {
    mine.set(e.data.task.toString(), { job: e.data.job.toString(), samples: e.data.samples, block: e.block, state: 'Assigned' });
  }
  for (const [k, v] of liveTasks) {
    const t = v.unwrap();
    if (t.provider.toString() !== who) continue;
    mine.set(k.args[0].toString(), { job: t.job.toString(), samples: t.samples, block: mine.get(k.args[0].toString())?.block, state: t.state.type, result: t.result, live: true });
  }
  for (const [task, m] of mine) {
    if (m.live) continue;
    const ofTask = (d) => d.task.toString() === task;
    const end = ['TaskVerified', 'TaskRejected', 'DeadlineMissed', 'TaskDeclined', 'ResultSubmitted', 'TaskAccepted']
      .map((method) => history.find('marketplace', method, ofTask).at(-1)).find(Boolean);
    if (end) m.state = { TaskVerified: 'Verified', ResultSubmitted: 'Submitted', TaskAccepted: 'Accepted' }[end.method] ?? end.method;
    if (end?.data.result) m.result = end.data.result;
  }
  const taskRows = [...mine.entries()].sort((a, b) => Number(b[0]) - Number(a[0])).slice(0, 50).map(([t, m]) => [
    `<span data-raw="${t}">${t}</span>`,
    `<a href="#/job/${m.job}">job ${m.job}</a>`,
    num(m.samples),
    m.block ? block(m.block) : '',
    `<span class="tag">${esc(m.state)}</span>`,
    m.result ? cid(m.result) : '',
  ]);
  const earnRows = earned.slice(-30).reverse().map((e) => [block(e.block), balance(e.amount), esc(SOURCES[e.source])]);

  const metricsUrl = localStorage.getItem(`verity.metrics.${who}`) ?? '';
  const html = `${form}${dl(pairs)}
    <h3>Offers</h3>${table(['offer', 'class', 'capacity (milli-WU/s)', 'price per WU', 'status', 'load (FLOPs)', 'open tasks', 'supply (milli-WU/s backed)', ...(own ? [''] : [])], offerRows, 'no offers', 'data-provider-offers')}
    <h3>Tasks</h3>${table(['task', 'job', 'samples', 'assigned', 'state', 'result'], taskRows, 'no tasks in the history read', 'data-provider-tasks')}
    <h3>Earnings</h3>${table(['block', 'amount', 'from'], earnRows, 'no payments in the history read', 'data-earnings')}
    <h3>Slashes and penalties</h3>${table(['block', 'amount', 'why'], slashes.map(([b, a, w]) => [block(b), a, esc(w)]), 'none', 'data-slashes')}
    <h3>Worker</h3>
    <form class="inline" id="metrics-form"><input name="metrics" size="40" placeholder="http://HOST:PORT/metrics (verity-worker --metrics)" value="${esc(metricsUrl)}" aria-label="worker metrics URL"><button>watch</button></form>
    <div id="metrics" data-url="${esc(metricsUrl)}">${shown.url === metricsUrl ? shown.html : ''}</div>`;
  return {
    title: `Provider ${who.slice(0, 8)}…`,
    html,
    after(root) {
      const f = root.querySelector('#metrics-form');
      f.addEventListener('submit', (ev) => {
        ev.preventDefault();
        localStorage.setItem(`verity.metrics.${who}`, new FormData(f).get('metrics').toString().trim());
        window.dispatchEvent(new HashChangeEvent('hashchange'));
      });
      watchMetrics(root.querySelector('#metrics'));
    },
  };
}

/** A published libp2p endpoint: the peer id (base58) and its addresses. */
function endpointText(e) {
  const peer = base58Encode(e.peer.toU8a(true));
  const addrs = e.addrs.toArray().map((a) => `<code>${esc(multiaddr(a.toU8a(true), base58Encode))}</code>`);
  return `peer <code data-field="peer">${esc(peer)}</code>${addrs.length ? ' at ' + addrs.join(', ') : ''} <small>(${balance(e.deposit)} deposit)</small>`;
}

let metricsTimer = null;
/** The figures last read, kept across the view's redrawing at each block. */
const shown = { url: '', html: '' };
/** Polls the worker's Prometheus endpoint every 2 s while its element is on the page. */
function watchMetrics(el) {
  clearInterval(metricsTimer);
  const url = el?.dataset.url;
  if (!url) return;
  const poll = async () => {
    if (!document.getElementById('metrics') || document.getElementById('metrics').dataset.url !== url) {
      clearInterval(metricsTimer);
      return;
    }
    try {
      const text = await (await fetch(url, { cache: 'no-store' })).text();
      const rows = text.split('\n').filter((line) => line.startsWith('verity_worker_')).map((line) => {
        const i = line.lastIndexOf(' ');
        return [`<code>${esc(line.slice(0, i))}</code>`, `<span data-metric="${esc(line.slice(0, i))}">${esc(line.slice(i + 1))}</span>`];
      });
      shown.html = table(['metric', 'value'], rows, 'the endpoint answered with no verity_worker_ metrics', 'data-metrics');
    } catch (e) {
      shown.html = `<p class="error">The worker's metrics at ${esc(url)} cannot be read: ${esc(e.message)} (is it running with --metrics, and reachable from this browser?)</p>`;
    }
    shown.url = url;
    const now = document.getElementById('metrics');
    if (now) now.innerHTML = shown.html;
  };
  poll();
  metricsTimer = setInterval(poll, 2000);
}

export const actions = {
  offerStatus: (ctx, data) => ctx.api.tx.marketplace.setOfferStatus(data.offer, data.status),
};
