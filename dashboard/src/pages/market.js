// Market: each resource class with its price index, supply, demand and load, a chart of the
// index over the blocks read, and the class's offers.
import uPlot from 'uplot';
import { account, balance, esc, num, table, token } from '../format.js';

export async function render(ctx) {
  const { api, at, history } = ctx;
  const ids = [...(await at.query.marketplace.classIds()).toU8a(true)];
  const [classes, prices, stats, classOffers] = await Promise.all([
    at.query.marketplace.resourceClasses.multi(ids),
    at.query.marketplace.priceIndex.multi(ids),
    at.query.marketplace.stats.multi(ids),
    at.query.marketplace.classOffers.multi(ids),
  ]);
  const offerIds = classOffers.flatMap((o) => o.toArray());
  const offers = offerIds.length ? await at.query.marketplace.offers.multi(offerIds) : [];
  const offerById = new Map(offerIds.map((id, i) => [id.toString(), offers[i]]));
  const series = priceSeries(history, ids);
  let html = `<p class="muted">Price index per resource class (what a unit of work costs now), the work
    offered and asked for, and every offer. History: ${esc(history.coverage())}.</p>`;
  ids.forEach((id, i) => {
    const c = classes[i].unwrap();
    const s = stats[i];
    const name = new TextDecoder().decode(c.name.toU8a(true));
    const rows = classOffers[i].toArray().map((oid) => {
      const o = offerById.get(oid.toString())?.unwrapOr(null);
      if (!o) return null;
      const price = o.price.isFixed ? balance(o.price.asFixed) : '<span class="tag">follows the index</span>';
      return {
        attrs: `data-offer="${oid}"`,
        cells: [
          `<span data-raw="${oid}">${oid}</span>`,
          account(o.provider),
          num(o.capacity),
          price,
          `${num(o.minJob)}–${num(o.maxJob)}`,
          `<span class="tag ${o.status.isActive ? 'ok' : ''}">${o.status.type}</span>`,
          num(o.load),
          num(o.openTasks),
        ],
      };
    }).filter(Boolean);
    html += `<section class="card" data-class="${id}">
      <h3>${esc(name)} <span class="muted">class ${id} · ${esc(c.device.type)}</span></h3>
      <div class="figures">
        <div><small>price index</small><b data-field="price-index">${balance(prices[i])}</b><small>per WU, range ${balance(c.minPrice)} – ${balance(c.maxPrice)}</small></div>
        <div><small>supply</small><b data-field="capacity">${num(s.capacity)}</b><small>milli-WU/s that stake backs</small></div>
        <div><small>demand</small><b data-field="demand">${num(s.demand)}</b><small>FLOPs of jobs an offer could take</small></div>
        <div><small>load</small><b data-field="load">${num(s.load)}</b><small>FLOPs assigned, not yet submitted</small></div>
      </div>
      <div class="chart" id="chart-${id}" data-points="${series.get(id)?.[0].length ?? 0}"></div>
      <h4>Offers (${rows.length})</h4>
      ${table(['offer', 'provider', 'capacity (milli-WU/s)', 'price per WU', 'job size (WU)', 'status', 'load (FLOPs)', 'open tasks'], rows, 'no offers in this class', `data-offers="${id}"`)}
    </section>`;
  });
  if (ids.length === 0) html += '<p class="muted">No resource classes on this chain.</p>';
  return {
    title: 'Market',
    html: html + `<span hidden data-series="${[...series.values()].map((s) => s[0].at(-1)).join(',')}"></span>`,
    after(root) {
      for (const id of ids) chart(root.querySelector(`#chart-${id}`), series.get(id));
    },
  };
}

/** The index of each class at each block read: class -> [blocks, values in the token]. */
function priceSeries(history, ids) {
  const blocks = [...history.prices.keys()].sort((a, b) => a - b);
  const unit = 10 ** token.decimals;
  const out = new Map();
  for (const id of ids) {
    const xs = [];
    const ys = [];
    for (const b of blocks) {
      const v = history.prices.get(b).get(id);
      if (v === undefined) continue;
      xs.push(b);
      ys.push(Number(v) / unit);
    }
    out.set(id, [xs, ys]);
  }
  return out;
}

function chart(el, data) {
  if (!el || !data || data[0].length < 2) {
    if (el) el.innerHTML = '<p class="muted">The chart appears once two blocks are read.</p>';
    return;
  }
  const width = Math.max(280, el.clientWidth || 600);
  new uPlot(
    {
      width,
      height: 180,
      scales: { x: { time: false } },
      axes: [{ label: 'block' }, { label: `${token.symbol} per WU`, size: 70 }],
      series: [{ label: 'block' }, { label: 'price index', stroke: '#3b6fd8', width: 2, points: { show: false } }],
      legend: { show: false },
    },
    data,
    el,
  );
}
