// What happened on chain: the events of Verity's pallets (and the balance transfers that pay
// providers and verifiers) over recent blocks, and the price index of every resource class at each of them.
// Storage holds only what is live (a finished job is removed); the job pages, earnings and the
// price chart come from here. It reads back `depth` blocks from the best one, newest first, in
// parallel batches, then follows every new head. A node that prunes state (the default keeps 256
// blocks) answers only for recent blocks: the scan stops at the first discarded one and says so.

const SECTIONS = new Set(['marketplace', 'proofOfCompute', 'stakingGovernance', 'feeSettlement', 'aivmRegistry']);
const BATCH = 24;

/** One event: block, its place in the block, what produced it, and its named fields. */
function record(block, index, r) {
  const { event, phase } = r;
  const data = {};
  event.data.forEach((value, i) => {
    data[event.data.names?.[i] ?? i] = value;
  });
  return {
    block,
    index,
    /** What produced it within the block: `ext:N`, `Initialization` or `Finalization`. */
    phase: phase.isApplyExtrinsic ? `ext:${phase.asApplyExtrinsic}` : phase.type,
    section: event.section,
    method: event.method,
    data,
  };
}

export class History {
  constructor(api, onChange) {
    this.api = api;
    this.onChange = onChange;
    /** Events kept, by block then index. */
    this.events = [];
    /** Price index by block: block -> Map(class -> bigint). */
    this.prices = new Map();
    /** The lowest and highest block read. */
    this.from = null;
    this.to = null;
    /** The block below which the node had discarded state, if the scan met one. */
    this.prunedAt = null;
    /** True once the backfill is done. */
    this.complete = false;
    this.classes = [];
    this.byMethod = new Map();
  }

  /** Reads the block `n` (events and prices) and returns its records. */
  async readBlock(n, hash) {
    const api = this.api;
    const h = hash ?? (await api.rpc.chain.getBlockHash(n));
    const [events, ...prices] = await Promise.all([
      api.query.system.events.at(h),
      ...this.classes.map((c) => api.query.marketplace.priceIndex.at(h, c)),
    ]);
    const kept = [];
    events.forEach((r, i) => {
      const s = r.event.section;
      if (SECTIONS.has(s) || (s === 'balances' && r.event.method.startsWith('Transfer'))) kept.push(record(n, i, r));
    });
    const byClass = new Map();
    this.classes.forEach((c, i) => byClass.set(c, prices[i].toBigInt()));
    return { kept, byClass };
  }

  add(n, { kept, byClass }) {
    // A block read again (a new head at a height already read) replaces its events; a block read
    // the first time (the whole backfill) only adds them.
    const again = this.prices.has(n);
    this.events = (again ? this.events.filter((e) => e.block !== n) : this.events).concat(kept);
    this.prices.set(n, byClass);
    this.from = this.from === null ? n : Math.min(this.from, n);
    this.to = this.to === null ? n : Math.max(this.to, n);
  }

  /** Orders the events and indexes them by `section.method`. */
  sort() {
    this.events.sort((a, b) => a.block - b.block || a.index - b.index);
    this.byMethod = new Map();
    for (const e of this.events) {
      const key = `${e.section}.${e.method}`;
      if (!this.byMethod.has(key)) this.byMethod.set(key, []);
      this.byMethod.get(key).push(e);
    }
  }

  /** Starts following new heads and reads back `depth` blocks. */
  async start(depth) {
    const api = this.api;
    this.classes = [...(await api.query.marketplace.classIds()).toU8a(true)];
    const best = (await api.rpc.chain.getHeader()).number.toNumber();
    await api.rpc.chain.subscribeNewHeads(async (header) => {
      const n = header.number.toNumber();
      try {
        const read = await this.readBlock(n, header.hash);
        // A re-organisation: blocks at or above n are replaced by what this head says.
        if (this.to !== null && n <= this.to) {
          this.events = this.events.filter((e) => e.block < n);
          for (const b of [...this.prices.keys()]) if (b >= n) this.prices.delete(b);
          this.to = n - 1;
        }
        this.add(n, read);
        this.sort();
        this.onChange();
      } catch (e) {
        console.warn(`history: block #${n}: ${e.message}`);
      }
    });
    this.backfill(best, depth);
  }

  async backfill(best, depth) {
    const low = Math.max(0, best - depth + 1);
    let n = best;
    while (n >= low && this.prunedAt === null) {
      const batch = [];
      for (let b = n; b > n - BATCH && b >= low; b--) batch.push(b);
      const results = await Promise.allSettled(batch.map((b) => this.readBlock(b)));
      results.forEach((r, i) => {
        const b = batch[i];
        if (r.status === 'fulfilled') {
          if (!this.prices.has(b)) this.add(b, r.value);
        } else if (/discarded|pruned|not found|unknown block/i.test(r.reason?.message ?? '')) {
          this.prunedAt = Math.max(this.prunedAt ?? -1, b);
        } else {
          console.warn(`history: block #${b}: ${r.reason?.message}`);
        }
      });
      n -= BATCH;
      this.sort();
      this.onChange();
    }
    if (this.prunedAt !== null) this.from = this.prunedAt + 1;
    this.complete = true;
    this.onChange();
  }

  /** Events of `section.method` (method optional), optionally filtered. */
  find(section, method, filter = () => true) {
    const events = method ? (this.byMethod.get(`${section}.${method}`) ?? []) : this.events.filter((e) => e.section === section);
    return events.filter((e) => filter(e.data, e));
  }

  /** Text saying which blocks the history covers. */
  coverage() {
    if (this.from === null) return 'no blocks read yet, reading…';
    const pruned = this.prunedAt !== null
      ? ` (the node discarded older state: run it with --state-pruning archive to see everything)`
      : '';
    return `blocks #${this.from}–#${this.to}${this.complete ? '' : ', reading further back…'}${pruned}`;
  }
}
