// The governance part of the main job (scripts/demo.sh): Alice, the dev chain's only staker,
// proposes to change fee-settlement's challenge period, votes with her stake, and the chain
// enacts it as Root after the vote. Usage: VERITY_WS=ws://… node demo/governance.mjs [blocks]
import { connect, signAndInclude, waitForEvent } from '../lib.mjs';

const target = Number(process.argv[2] || 300);
const { api, keyring } = await connect();
const alice = keyring.addFromUri('//Alice');
const before = (await api.query.feeSettlement.challengePeriod()).toNumber();

const proposed = await signAndInclude(api, api.tx.stakingGovernance.propose(api.tx.feeSettlement.setChallengePeriod(target)), alice);
if (proposed.dispatchError) throw new Error(`propose failed: ${proposed.dispatchError}`);
const index = proposed.events.find(({ event }) => api.events.stakingGovernance.Proposed.is(event)).event.data.index.toNumber();
const voted = await signAndInclude(api, api.tx.stakingGovernance.vote(index, true), alice);
if (voted.dispatchError) throw new Error(`vote failed: ${voted.dispatchError}`);
const stake = (await api.query.stakingGovernance.ledgers(alice.address)).unwrap().active.toBigInt() / 10n ** 12n;
const enacted = await waitForEvent(api, (e) => api.events.stakingGovernance.ProposalEnacted.is(e) && e.data.index.toNumber() === index);
const after = (await api.query.feeSettlement.challengePeriod()).toNumber();

console.log(`  proposal #${index}       feeSettlement.setChallengePeriod(${target}), Alice's deposit 100 VER`);
console.log(`  vote             aye with ${stake} VER of bonded stake (all of the dev chain's)`);
console.log(`  enacted as Root  result ${enacted.data.result.isOk ? 'Ok' : enacted.data.result.toString()}; challenge period ${before} -> ${after} blocks`);
await api.disconnect();
