// Validators: the set BABE and GRANDPA run with, the elected set and the candidates with their
// stake, the session and epoch, and offences.
import { account, balance, block, dl, num, perbill, table } from '../format.js';

export async function render(ctx) {
  const { api, at, history } = ctx;
  const [session, current, elected, candidates, epoch, setId] = await Promise.all([
    at.query.session.currentIndex(),
    at.query.session.validators(),
    at.query.stakingGovernance.electedValidators(),
    at.query.stakingGovernance.candidates(),
    at.query.babe.epochIndex(),
    at.query.grandpa.currentSetId(),
  ]);
  const everyone = [...new Set([...current, ...elected, ...candidates].map(String))];
  const [ledgers, offences] = await Promise.all([
    at.query.stakingGovernance.ledgers.multi(everyone),
    at.query.stakingGovernance.offenceSlashes.multi(everyone),
  ]);
  const stake = new Map(everyone.map((a, i) => [a, ledgers[i].isSome ? ledgers[i].unwrap().active : 0]));
  const offence = new Map(everyone.map((a, i) => [a, offences[i]]));
  const set = new Set(current.map(String));
  const chosen = new Set(elected.map(String));
  const rows = everyone
    .sort((a, b) => (BigInt(stake.get(b).toString()) > BigInt(stake.get(a).toString()) ? 1 : -1))
    .map((a) => {
      const o = offence.get(a);
      return {
        attrs: `data-validator="${a}"`,
        cells: [
          account(a),
          `<span data-field="stake">${balance(stake.get(a))}</span>`,
          set.has(a) ? '<span class="tag ok">validating</span>' : '<span class="muted">no</span>',
          chosen.has(a) ? 'elected' : candidates.some((c) => c.toString() === a) ? 'candidate' : '',
          o && o.isSome ? `${perbill(o.unwrap()[0])} slashed (${balance(o.unwrap()[1])})` : '',
        ],
      };
    });
  const elections = history.find('stakingGovernance', 'ValidatorsElected').slice(-10).reverse()
    .map((e) => [block(e.block), `session ${e.data.session}`, `${e.data.validators.length} validators`]);
  const punished = history.find('stakingGovernance', 'OffencePunished').reverse()
    .map((e) => [block(e.block), account(e.data.who), `session ${e.data.session}`, perbill(e.data.fraction)]);
  const html = `${dl([
    ['session', `<span data-field="session">${num(session)}</span>`],
    ['BABE epoch', num(epoch)],
    ['GRANDPA authority set', num(setId)],
    ['best / finalised', `${block(ctx.drawn)} / ${block(ctx.finalized)}`],
  ])}
    <h3>Validators and candidates</h3>
    ${table(['account', 'active stake', 'in the session set', 'election', 'offences'], rows, 'none', 'data-validators')}
    <h3>Elections</h3>${table(['block', 'session', 'set'], elections, 'none in the history read')}
    <h3>Offences punished</h3>${table(['block', 'who', 'session', 'slash'], punished, 'none in the history read')}`;
  return { title: 'Validators', html };
}
