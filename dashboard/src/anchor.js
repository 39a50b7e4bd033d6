// The benchmark's anchor (bench.mjs): the least a page on @polkadot/api does before it shows chain
// data — connect, read the market's classes and their price index, write them out. The dashboard's
// page load is compared with this one's in the same browser against the same node.
import { ApiPromise, WsProvider } from '@polkadot/api';

const url = new URLSearchParams(window.location.search).get('rpc') || 'ws://127.0.0.1:9944';
const api = await ApiPromise.create({ provider: new WsProvider(url), noInitWarn: true });
const ids = [...(await api.query.marketplace.classIds()).toU8a(true)];
const prices = await api.query.marketplace.priceIndex.multi(ids);
const page = document.getElementById('page');
page.textContent = prices.map((p, i) => `class ${ids[i]}: ${p}`).join('\n');
page.dataset.loaded = '1';
window.verityFirstData = performance.now();
