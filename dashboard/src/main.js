// Verity's dashboard: one page app over any verity-node's WebSocket RPC. The address bar picks
// the node (`?rpc=ws://…`) and the view (`#/market`, `#/jobs`, `#/job/ID`, `#/provider/ADDRESS`,
// `#/channels/ADDRESS`, `#/governance`, `#/validators`). Every view is drawn from the chain's
// storage and events and drawn again at each new block; actions are signed with the account
// chosen in the header and report the extrinsic's named error when they fail.
import { connect, rpcUrl, send, signingAccounts } from './chain.js';
import { History } from './history.js';
import { esc } from './format.js';
import * as market from './pages/market.js';
import * as jobs from './pages/jobs.js';
import * as job from './pages/job.js';
import * as provider from './pages/provider.js';
import * as channels from './pages/channels.js';
import * as governance from './pages/governance.js';
import * as validators from './pages/validators.js';

const ROUTES = { market, jobs, job, provider, channels, governance, validators };
const NAV = [
  ['market', 'Market'],
  ['jobs', 'Jobs'],
  ['provider', 'Provider'],
  ['channels', 'Channels'],
  ['governance', 'Governance'],
  ['validators', 'Validators'],
];

const $ = (sel) => document.querySelector(sel);
// `at` is the chain's state at the block being drawn (`drawn`), so a view shows one block's state.
const ctx = { api: null, at: null, history: null, head: null, best: 0, drawn: 0, finalized: 0, accounts: [], account: null };
let rendering = false;
let drawnOnce;
const firstDrawn = new Promise((resolve) => {
  drawnOnce = resolve;
});
let dirty = false;
let lastHtml = '';
let lastRoute = '';

function route() {
  const parts = (window.location.hash.replace(/^#\/?/, '') || 'market').split('/');
  const name = ROUTES[parts[0]] ? parts[0] : 'market';
  return { name, args: parts.slice(1).map(decodeURIComponent) };
}

/** Draws the current view; at most one drawing at a time, a request during one draws again after. */
async function draw() {
  if (!ctx.api || !ctx.head) return;
  if (rendering) {
    dirty = true;
    return;
  }
  rendering = true;
  try {
    do {
      dirty = false;
      const { name, args } = route();
      const key = `${name}/${args.join('/')}`;
      for (const a of document.querySelectorAll('nav a')) a.classList.toggle('on', a.dataset.route === name);
      const head = ctx.head;
      ctx.at = await ctx.api.at(head.hash);
      ctx.drawn = head.number.toNumber();
      const view = await ROUTES[name].render(ctx, ...args);
      const html = `<h2>${esc(view.title)}</h2>${view.html}`;
      // Someone typing in the view's form keeps what they typed: the view is drawn again when
      // they leave the field.
      const typing = key === lastRoute && document.activeElement?.closest('#page input');
      if ((html !== lastHtml || key !== lastRoute) && !typing) {
        $('#page').innerHTML = html;
        lastHtml = html;
        lastRoute = key;
        view.after?.($('#page'));
      }
      $('#page').dataset.block = String(ctx.drawn);
      // Whether the events and prices of the blocks asked for were all read when this was drawn.
      $('#page').dataset.history = ctx.history.complete ? 'complete' : 'reading';
      $('#page').dataset.route = name;
      $('#page').dataset.loaded = '1';
      // When the first chain data was on screen, in ms since navigation (tests, bench.mjs).
      window.verityFirstData ??= performance.now();
      drawnOnce();
    } while (dirty);
  } catch (e) {
    console.error(e);
    $('#page').innerHTML = `<p class="error">Could not draw this view: ${esc(e.message)}</p>`;
    lastHtml = '';
    drawnOnce();
  } finally {
    rendering = false;
  }
}

let throttle = null;
function soon() {
  if (throttle) return;
  throttle = setTimeout(() => {
    throttle = null;
    draw();
  }, 150);
}

function status(text, kind = '') {
  const el = $('#status');
  el.textContent = text;
  el.className = kind;
}

/** Runs a page's action: it builds the extrinsic, the header's account signs it. */
async function act(button) {
  const { name } = route();
  const action = ROUTES[name].actions?.[button.dataset.action];
  if (!action) return;
  if (!ctx.account) {
    status('Choose an account to sign with first (header, top right).', 'error');
    return;
  }
  button.disabled = true;
  try {
    const tx = await action(ctx, button.dataset);
    const n = await send(ctx.api, tx, ctx.account, (t) => status(t, 'busy'));
    status(`${tx.method.section}.${tx.method.method}: in block #${n}`, 'ok');
  } catch (e) {
    status(e.message, 'error');
  } finally {
    button.disabled = false;
    draw();
  }
}

function accountPicker() {
  const select = $('#account');
  select.innerHTML = '<option value="">— sign with —</option>' +
    ctx.accounts.map((a) => `<option value="${a.address}">${esc(a.name)} · ${a.address.slice(0, 6)}…</option>`).join('');
  const saved = localStorage.getItem('verity.account');
  if (saved && ctx.accounts.some((a) => a.address === saved)) select.value = saved;
  ctx.account = ctx.accounts.find((a) => a.address === select.value) ?? null;
  select.addEventListener('change', () => {
    ctx.account = ctx.accounts.find((a) => a.address === select.value) ?? null;
    localStorage.setItem('verity.account', select.value);
    draw();
  });
}

async function main() {
  const url = rpcUrl();
  $('#node').textContent = url;
  $('nav').innerHTML = NAV.map(([r, label]) => `<a href="#/${r}" data-route="${r}">${label}</a>`).join('');
  document.addEventListener('click', (ev) => {
    const button = ev.target.closest('button[data-action]');
    if (button) act(button);
  });
  document.addEventListener('submit', (ev) => {
    const form = ev.target.closest('form[data-go]');
    if (!form) return;
    ev.preventDefault();
    const value = new FormData(form).get('q')?.toString().trim();
    if (value) window.location.hash = `#/${form.dataset.go}/${encodeURIComponent(value)}`;
  });
  window.addEventListener('hashchange', draw);
  document.addEventListener('focusout', () => setTimeout(draw, 0));
  try {
    ctx.api = await connect(url);
  } catch (e) {
    $('#page').innerHTML = `<p class="error">Cannot reach the node at ${esc(url)}: ${esc(e.message ?? e)}. Start one (scripts/demo.sh) or pass another with ?rpc=ws://HOST:PORT.</p>`;
    return;
  }
  ctx.api.rpc.system.chain().then((chain) => {
    $('#chain').textContent = chain.toString();
  });
  ctx.api.on('disconnected', () => status(`disconnected from ${url}; reconnecting…`, 'error'));
  ctx.api.on('connected', () => status(''));
  ctx.history = new History(ctx.api, soon);
  const asked = Number(new URLSearchParams(window.location.search).get('history') ?? 2000);
  const depth = Number.isInteger(asked) && asked > 0 ? asked : 2000;
  await ctx.api.rpc.chain.subscribeNewHeads((h) => {
    ctx.head = h;
    ctx.best = h.number.toNumber();
    $('#best').textContent = `#${ctx.best.toLocaleString('en-US')}`;
    $('#best').dataset.raw = String(ctx.best);
    draw();
  });
  await ctx.api.rpc.chain.subscribeFinalizedHeads((h) => {
    ctx.finalized = h.number.toNumber();
    $('#finalized').textContent = `#${ctx.finalized.toLocaleString('en-US')}`;
  });
  // The first view is drawn before anything else asks the node or the CPU for much: the history
  // (thousands of reads) and the signing accounts (the crypto wasm) start after it.
  await firstDrawn;
  ctx.history.start(depth);
  ctx.accounts = await signingAccounts(ctx.api);
  accountPicker();
  draw();
}

main();
