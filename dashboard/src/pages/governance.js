// Governance: the parameters, every proposal with its call, tally, turnout and state, and a vote
// button signed by the header's account; past proposals from the history.
import { account, balance, block, dl, esc, num, perbill, table } from '../format.js';

/** The proposal's call as `section.method(args)`, or why it cannot be read. */
function describe(api, bytes) {
  try {
    const call = api.createType('Call', bytes);
    const args = JSON.stringify(call.toHuman().args);
    return `<code>${esc(call.section)}.${esc(call.method)}</code> <small class="muted">${esc(args.length > 160 ? args.slice(0, 160) + '…' : args)}</small>`;
  } catch (e) {
    return `<span class="muted">a call this runtime cannot decode (${esc(e.message)})</span>`;
  }
}

export async function render(ctx) {
  const { api, at, history } = ctx;
  const [params, total, active] = await Promise.all([
    at.query.stakingGovernance.parameters(),
    at.query.stakingGovernance.totalActive(),
    at.query.stakingGovernance.activeProposals(),
  ]);
  const p = params.unwrap();
  const ids = active.toArray().map((i) => i.toNumber());
  const proposals = ids.length ? await at.query.stakingGovernance.proposals.multi(ids) : [];
  const mine = ctx.account && ids.length
    ? await at.query.stakingGovernance.votes.multi(ids.map((i) => [i, ctx.account.address]))
    : ids.map(() => null);
  const totalBig = BigInt(total.toString());
  const rows = ids.map((id, k) => {
    const x = proposals[k].unwrapOr(null);
    if (!x) return null;
    const ayes = BigInt(x.ayes.toString());
    const nays = BigInt(x.nays.toString());
    const turnout = totalBig > 0n ? Number(((ayes + nays) * 10000n) / totalBig) / 100 : 0;
    const approval = ayes + nays > 0n ? Number((ayes * 10000n) / (ayes + nays)) / 100 : 0;
    const voting = x.status.isVoting;
    const voted = mine[k]?.isSome ? mine[k].unwrap() : null;
    const buttons = voting
      ? voted
        ? `<span class="tag">you voted ${voted.aye.isTrue ? 'aye' : 'nay'}</span>`
        : `<button data-action="vote" data-index="${id}" data-aye="1">aye</button> <button data-action="vote" data-index="${id}" data-aye="0">nay</button>`
      : '';
    return {
      attrs: `data-proposal="${id}"`,
      cells: [
        `<span data-raw="${id}">#${id}</span>`,
        describe(api, x.call),
        account(x.proposer),
        `<span data-field="ayes">${balance(x.ayes)}</span>`,
        `<span data-field="nays">${balance(x.nays)}</span>`,
        `<span data-field="voters">${num(x.voters)}</span>`,
        `${turnout.toFixed(2)} % turnout, ${approval.toFixed(2)} % aye<div class="bar"><i style="width:${approval}%"></i></div>`,
        voting ? `voting until ${block(x.votingEnds)}` : `approved, enacted at ${block(x.status.asApproved.enactAt)}`,
        buttons,
      ],
    };
  }).filter(Boolean);
  const ended = [
    ...history.find('stakingGovernance', 'ProposalEnacted').map((e) => [e.data.index.toNumber(), e.block, e.data.result.isOk ? '<span class="tag ok">enacted</span>' : `<span class="tag bad">enacted, the call failed</span>`]),
    ...history.find('stakingGovernance', 'ProposalRejected').map((e) => [e.data.index.toNumber(), e.block, `<span class="tag bad">rejected${e.data.turnoutReached.isTrue ? '' : ' (turnout not reached)'}</span>`]),
    ...history.find('stakingGovernance', 'ProposalCancelled').map((e) => [e.data.index.toNumber(), e.block, '<span class="tag">cancelled</span>']),
  ].sort((a, b) => b[1] - a[1]).map(([i, b, s]) => {
    const voters = history.find('stakingGovernance', 'Voted', (d) => d.index.toNumber() === i);
    return [`#${i}`, block(b), s, `${voters.length} vote${voters.length === 1 ? '' : 's'}`];
  });
  const html = `${dl([
    ['total active stake', `<span data-field="total-active">${balance(total)}</span>`],
    ['voting period', `${num(p.votingPeriod)} blocks, then ${num(p.enactmentDelay)} blocks to enactment`],
    ['to pass', `turnout ≥ ${perbill(p.minTurnout)} of active stake and approval ≥ ${perbill(p.minApproval)}`],
    ['proposal deposit', balance(p.proposalDeposit)],
    ['validators', `${num(p.validatorCount)} seats (at least ${num(p.minValidatorCount)}), bond ≥ ${balance(p.minValidatorBond)}`],
    ['provider bond', balance(p.minProviderBond)],
    ['unbonding', `${num(p.unbondingPeriod)} blocks`],
  ])}
    <h3>Proposals (${rows.length})</h3>
    <p class="muted">A vote weighs the voter's active stake; choose the account to vote with in the header.</p>
    ${table(['proposal', 'call', 'proposer', 'ayes', 'nays', 'voters', 'tally', 'state', 'vote'], rows, 'no proposal is open', 'data-proposals')}
    <h3>Decided</h3>${table(['proposal', 'block', 'outcome', 'votes'], ended, 'none in the history read', 'data-decided')}`;
  return { title: 'Governance', html };
}

export const actions = {
  vote: (ctx, data) => ctx.api.tx.stakingGovernance.vote(Number(data.index), data.aye === '1'),
};
