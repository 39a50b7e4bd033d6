//! Unit tests on the mock runtime. Each runs the pallet's `try_state` after it.

use crate::{mock::*, pallet::*, types::*, SlashReason};
use polkadot_sdk::{
	frame_support::{
		assert_noop, assert_ok,
		traits::fungible::{Inspect, InspectHold, Mutate},
		weights::Weight,
	},
	pallet_session::SessionManager,
	sp_runtime::{DispatchError, Perbill, TokenError},
	sp_staking::offence::{OffenceDetails, OnOffenceHandler},
};
use verity_primitives::staking::ProviderStake;

fn signed(who: AccountId) -> RuntimeOrigin {
	RuntimeOrigin::signed(who)
}

fn staked(who: AccountId) -> Balance {
	Balances::balance_on_hold(&HoldReason::Staking.into(), &who)
}

fn ledger(who: AccountId) -> LedgerOf<Test> {
	Ledgers::<Test>::get(who).unwrap()
}

fn set_params_call(validator_count: u32) -> RuntimeCall {
	RuntimeCall::Staking(Call::set_params { params: Params { validator_count, ..params() } })
}

// ---- staking ----

#[test]
fn bond_works() {
	build_and_execute(|| {
		assert_ok!(Staking::bond(signed(4), 700));
		System::assert_last_event(Event::Bonded { who: 4, amount: 700 }.into());
		assert_eq!(staked(4), 700);
		assert_eq!(ledger(4).active, 700);
		assert_eq!(TotalActive::<Test>::get(), 6700);
	});
}

#[test]
fn bond_fails_for_bad_input() {
	build_and_execute(|| {
		assert_noop!(Staking::bond(signed(1), 10), Error::<Test>::AlreadyBonded);
		assert_noop!(Staking::bond(signed(4), 0), Error::<Test>::ZeroAmount);
		assert_noop!(
			Staking::bond(signed(4), INITIAL + 1),
			DispatchError::Token(TokenError::FundsUnavailable)
		);
		assert_noop!(Staking::bond_extra(signed(4), 10), Error::<Test>::NotBonded);
	});
}

#[test]
fn bond_extra_adds_to_active() {
	build_and_execute(|| {
		assert_ok!(Staking::bond_extra(signed(1), 500));
		assert_eq!(ledger(1).active, 1500);
		assert_eq!(staked(1), 1500);
	});
}

#[test]
fn unbond_moves_stake_to_a_chunk_that_withdraws_after_the_delay() {
	build_and_execute(|| {
		assert_ok!(Staking::unbond(signed(3), 1000));
		let unlock_at = 1 + UNBONDING_PERIOD;
		System::assert_last_event(Event::Unbonded { who: 3, amount: 1000, unlock_at }.into());
		assert_eq!(ledger(3).active, 2000);
		assert_eq!(TotalActive::<Test>::get(), 5000);
		// Still held while unbonding.
		assert_eq!(staked(3), 3000);
		run_to_block(unlock_at - 1);
		assert_noop!(Staking::withdraw_unbonded(signed(3)), Error::<Test>::NothingToWithdraw);
		run_to_block(unlock_at);
		assert_ok!(Staking::withdraw_unbonded(signed(3)));
		System::assert_last_event(Event::Withdrawn { who: 3, amount: 1000 }.into());
		assert_eq!(staked(3), 2000);
		assert_eq!(Balances::balance(&3), INITIAL - 2000);
	});
}

#[test]
fn unbonding_everything_and_withdrawing_removes_the_ledger_and_candidacy() {
	build_and_execute(|| {
		assert_ok!(Staking::unbond(signed(1), 1000));
		assert!(!Candidates::<Test>::get().contains(&1));
		System::assert_has_event(Event::Chilled { who: 1 }.into());
		run_to_block(1 + UNBONDING_PERIOD);
		assert_ok!(Staking::withdraw_unbonded(signed(1)));
		assert!(Ledgers::<Test>::get(1).is_none());
		assert_eq!(staked(1), 0);
	});
}

#[test]
fn unbond_fails_for_bad_input() {
	build_and_execute(|| {
		assert_noop!(Staking::unbond(signed(1), 1001), Error::<Test>::InsufficientBond);
		assert_noop!(Staking::unbond(signed(1), 0), Error::<Test>::ZeroAmount);
		assert_noop!(Staking::unbond(signed(4), 1), Error::<Test>::NotBonded);
		for _ in 0..3 {
			assert_ok!(Staking::unbond(signed(3), 10));
		}
		assert_noop!(Staking::unbond(signed(3), 10), Error::<Test>::TooManyUnlockingChunks);
		assert_noop!(Staking::withdraw_unbonded(signed(4)), Error::<Test>::NotBonded);
	});
}

#[test]
fn validate_and_chill_work() {
	build_and_execute(|| {
		assert_ok!(Staking::bond(signed(4), 500));
		assert_ok!(Staking::validate(signed(4)));
		System::assert_last_event(Event::ValidatorCandidate { who: 4 }.into());
		assert_noop!(Staking::validate(signed(4)), Error::<Test>::AlreadyCandidate);
		assert_ok!(Staking::chill(signed(4)));
		System::assert_last_event(Event::Chilled { who: 4 }.into());
		assert_noop!(Staking::chill(signed(4)), Error::<Test>::NotCandidate);
	});
}

#[test]
fn validate_fails_below_minimum_or_when_full() {
	build_and_execute(|| {
		assert_noop!(Staking::validate(signed(4)), Error::<Test>::NotBonded);
		assert_ok!(Staking::bond(signed(4), 499));
		assert_noop!(Staking::validate(signed(4)), Error::<Test>::BelowValidatorMinimum);
		// Fill the list (8) with accounts 4..=8.
		assert_ok!(Staking::bond_extra(signed(4), 1));
		for who in 5..=9u64 {
			Balances::set_balance(&who, INITIAL);
			assert_ok!(Staking::bond(signed(who), 500));
		}
		for who in 4..=8u64 {
			assert_ok!(Staking::validate(signed(who)));
		}
		assert_noop!(Staking::validate(signed(9)), Error::<Test>::TooManyCandidates);
	});
}

// ---- slashing ----

#[test]
fn slash_takes_active_stake_first_and_pays_the_treasury() {
	build_and_execute(|| {
		assert_ok!(Staking::unbond(signed(3), 1000));
		assert_ok!(Staking::slash(RuntimeOrigin::root(), 3, 500, SlashReason::Equivocation));
		System::assert_last_event(
			Event::Slashed { who: 3, amount: 500, reason: SlashReason::Equivocation }.into(),
		);
		assert_eq!(ledger(3).active, 1500);
		assert_eq!(ledger(3).unlocking[0].value, 1000);
		assert_eq!(staked(3), 2500);
		assert_eq!(Balances::balance(&TREASURY), 1 + 500);
		assert_eq!(TotalActive::<Test>::get(), 4500);
	});
}

#[test]
fn slash_reaches_unbonding_funds() {
	build_and_execute(|| {
		assert_ok!(Staking::unbond(signed(2), 1500));
		assert_ok!(Staking::unbond(signed(2), 400));
		// 100 active left: the slash takes it, then the later chunk, then part of the earlier.
		let slashed = <Staking as ProviderStake<_, _>>::slash(&2, 1000, SlashReason::NoShow);
		assert_eq!(slashed, 1000);
		let l = ledger(2);
		assert_eq!(l.active, 0);
		assert_eq!(l.unlocking.len(), 1);
		assert_eq!(l.unlocking[0].value, 1000);
		assert_eq!(staked(2), 1000);
		// Slashing more than there is takes all of it and removes the ledger.
		let slashed = <Staking as ProviderStake<_, _>>::slash(&2, 5000, SlashReason::NoShow);
		assert_eq!(slashed, 1000);
		assert!(Ledgers::<Test>::get(2).is_none());
		assert!(!Candidates::<Test>::get().contains(&2));
	});
}

#[test]
fn slash_fraction_and_provider_checks_through_the_trait() {
	build_and_execute(|| {
		assert_ok!(<Staking as ProviderStake<_, _>>::ensure_provider(&1));
		assert_noop!(
			<Staking as ProviderStake<_, _>>::ensure_provider(&4),
			Error::<Test>::BelowProviderMinimum
		);
		let slashed = <Staking as ProviderStake<_, _>>::slash_fraction(
			&1,
			Perbill::from_percent(10),
			SlashReason::WrongResult,
		);
		assert_eq!(slashed, 100);
		assert_eq!(<Staking as ProviderStake<_, _>>::active_stake(&1), 900);
	});
}

/// Security review finding 15: catching fraud earned the catchers nothing. A slash can now pay
/// a share of itself to those who caught it, in equal parts; the rest goes to the treasury.
#[test]
fn finding_15_a_slash_pays_its_catchers_a_bounty() {
	build_and_execute(|| {
		let before = [Balances::balance(&2), Balances::balance(&3), Balances::balance(&TREASURY)];
		let slashed = <Staking as ProviderStake<_, _>>::slash_fraction_to(
			&1,
			Perbill::from_percent(10),
			0,
			SlashReason::WrongResult,
			&[2, 3],
			Perbill::from_percent(50),
		);
		assert_eq!(slashed, 100);
		assert_eq!(<Staking as ProviderStake<_, _>>::active_stake(&1), 900);
		// 50 of the 100 to the two catchers, 25 each; 50 to the treasury.
		assert_eq!(Balances::balance(&2), before[0] + 25);
		assert_eq!(Balances::balance(&3), before[1] + 25);
		assert_eq!(Balances::balance(&TREASURY), before[2] + 50);
		// Nobody to pay: all of it to the treasury.
		<Staking as ProviderStake<_, _>>::slash_fraction_to(
			&1,
			Perbill::from_percent(10),
			0,
			SlashReason::WrongResult,
			&[],
			Perbill::from_percent(50),
		);
		assert_eq!(Balances::balance(&TREASURY), before[2] + 50 + 90);
	});
}

/// Security review finding 15: a slash was a share of the whole stake, whatever the task was
/// worth. A provider's penalty now has the task's collateral as its floor (and the stake as its
/// ceiling): 10 % of 1,000 is 100, but a task holding 300 of collateral costs 300.
#[test]
fn finding_15_a_slash_is_at_least_the_collateral_at_risk() {
	build_and_execute(|| {
		let slash = |floor| {
			<Staking as ProviderStake<_, _>>::slash_fraction_to(
				&1,
				Perbill::from_percent(10),
				floor,
				SlashReason::WrongResult,
				&[],
				Perbill::zero(),
			)
		};
		assert_eq!(<Staking as ProviderStake<_, _>>::active_stake(&1), 1_000);
		// Before the fix: 100, whatever the floor.
		assert_eq!(slash(300), 300);
		assert_eq!(<Staking as ProviderStake<_, _>>::active_stake(&1), 700);
		// A small task's collateral: the share of the stake.
		assert_eq!(slash(10), 70);
		// Never more than there is.
		assert_eq!(slash(10_000), 630);
		assert_eq!(<Staking as ProviderStake<_, _>>::active_stake(&1), 0);
	});
}

/// One equivocation reported as `pallet-offences` reports it, with the reporters it names.
fn offence(who: AccountId, reporters: Vec<AccountId>, fraction: u32) -> Weight {
	<Staking as OnOffenceHandler<_, (AccountId, ()), Weight>>::on_offence(
		&[OffenceDetails { offender: (who, ()), reporters }],
		&[Perbill::from_percent(fraction)],
		7,
	)
}

#[test]
fn an_equivocation_is_slashed_once_pays_its_reporters_and_chills() {
	build_and_execute(|| {
		let before = [Balances::balance(&4), Balances::balance(&5), Balances::balance(&TREASURY)];
		// Validator 1 (1000 bonded) double-signed; 4 and 5 reported it.
		offence(1, vec![4, 5], 20);
		assert_eq!(ledger(1).active, 800);
		assert_eq!(staked(1), 800);
		// A tenth of the 200 to the reporters, 10 each; the rest to the treasury.
		assert_eq!(Balances::balance(&4), before[0] + 10);
		assert_eq!(Balances::balance(&5), before[1] + 10);
		assert_eq!(Balances::balance(&TREASURY), before[2] + 180);
		assert!(!Candidates::<Test>::get().contains(&1), "the offender is chilled");
		System::assert_has_event(
			Event::OffencePunished { who: 1, session: 7, fraction: Perbill::from_percent(20) }
				.into(),
		);
		System::assert_has_event(
			Event::Slashed { who: 1, amount: 200, reason: SlashReason::Equivocation }.into(),
		);
		// The same incident seen in another slot costs nothing more.
		offence(1, vec![4], 20);
		offence(1, vec![4], 10);
		assert_eq!(ledger(1).active, 800);
		// A worse one (more validators offending together) costs the difference, of the stake
		// it had when first punished: 50 % of 1000 less the 200 already taken.
		offence(1, vec![], 50);
		assert_eq!(ledger(1).active, 500);
		assert_eq!(OffenceSlashes::<Test>::get(1), Some((Perbill::from_percent(50), 1000)));
		// Declaring candidacy again starts a new record: a new offence is slashed afresh.
		assert_ok!(Staking::validate(signed(1)));
		assert_eq!(OffenceSlashes::<Test>::get(1), None);
		offence(1, vec![], 10);
		assert_eq!(ledger(1).active, 450);
		// An offender that reports itself (its own block carried the report) earns nothing by
		// it: 20 % of the 500 it had when first punished, less the 50 taken, all to the treasury.
		let (own, treasury) = (Balances::balance(&1), Balances::balance(&TREASURY));
		offence(1, vec![1], 20);
		assert_eq!(ledger(1).active, 400);
		assert_eq!(Balances::balance(&1), own);
		assert_eq!(Balances::balance(&TREASURY), treasury + 50);
		// An offender without stake (or unknown) changes nothing but the record.
		offence(6, vec![4], 100);
		assert_eq!(Balances::balance(&6), INITIAL);
	});
}

#[test]
fn slash_needs_the_slash_origin() {
	build_and_execute(|| {
		assert_noop!(
			Staking::slash(signed(1), 3, 10, SlashReason::Governance),
			DispatchError::BadOrigin
		);
		assert_noop!(
			Staking::slash(RuntimeOrigin::root(), 4, 10, SlashReason::Governance),
			Error::<Test>::NotBonded
		);
		assert_noop!(
			Staking::slash(RuntimeOrigin::root(), 3, 0, SlashReason::Governance),
			Error::<Test>::ZeroAmount
		);
	});
}

// ---- election ----

#[test]
fn election_picks_the_top_stakers_with_keys() {
	build_and_execute(|| {
		assert_eq!(Staking::elect(), vec![3, 2, 1]);
		// 4 out-stakes everyone but has no session keys: skipped.
		assert_ok!(Staking::bond(signed(4), 5000));
		assert_ok!(Staking::validate(signed(4)));
		assert_eq!(Staking::elect(), vec![3, 2, 1]);
		// With keys it is elected and the smallest staker drops out (validator_count = 3).
		set_keys(4);
		assert_eq!(Staking::new_session(5), Some(vec![4, 3, 2]));
		System::assert_last_event(
			Event::ValidatorsElected { session: 5, validators: vec![4, 3, 2] }.into(),
		);
		assert_eq!(ElectedValidators::<Test>::get().into_inner(), vec![4, 3, 2]);
	});
}

#[test]
fn election_breaks_ties_by_account_id() {
	build_and_execute(|| {
		assert_ok!(Staking::bond_extra(signed(1), 2000));
		assert_ok!(Staking::bond_extra(signed(2), 1000));
		// 1, 2 and 3 all have 3000.
		assert_ok!(Staking::bond(signed(5), 3000));
		assert_ok!(Staking::validate(signed(5)));
		set_keys(5);
		assert_eq!(Staking::elect(), vec![1, 2, 3]);
	});
}

#[test]
fn election_keeps_the_set_when_too_few_are_electable() {
	build_and_execute(|| {
		assert_ok!(Staking::chill(signed(1)));
		assert_ok!(Staking::chill(signed(2)));
		assert_eq!(Staking::new_session(2), None);
		System::assert_last_event(Event::ElectionSkipped { session: 2, electable: 1 }.into());
	});
}

// ---- governance ----

#[test]
fn proposal_passes_and_enacts_as_root() {
	build_and_execute(|| {
		assert_ok!(Staking::propose(signed(1), Box::new(set_params_call(7))));
		System::assert_last_event(
			Event::Proposed { index: 0, proposer: 1, deposit: DEPOSIT, voting_ends: 11 }.into(),
		);
		assert_eq!(Balances::balance_on_hold(&HoldReason::ProposalDeposit.into(), &1), DEPOSIT);
		assert_ok!(Staking::vote(signed(3), 0, true));
		System::assert_last_event(
			Event::Voted { index: 0, voter: 3, aye: true, stake: 3000 }.into(),
		);
		assert_ok!(Staking::vote(signed(1), 0, false));
		// Voting still open on its last block.
		run_to_block(11);
		assert!(Proposals::<Test>::get(0).is_some());
		run_to_block(12);
		System::assert_last_event(
			Event::ProposalApproved {
				index: 0,
				ayes: 3000,
				nays: 1000,
				enact_at: 12 + ENACTMENT_DELAY,
			}
			.into(),
		);
		assert_eq!(Parameters::<Test>::get().unwrap().validator_count, 3);
		run_to_block(12 + ENACTMENT_DELAY);
		System::assert_has_event(Event::ProposalEnacted { index: 0, result: Ok(()) }.into());
		assert_eq!(Parameters::<Test>::get().unwrap().validator_count, 7);
		assert_eq!(Balances::balance_on_hold(&HoldReason::ProposalDeposit.into(), &1), 0);
		assert!(Proposals::<Test>::get(0).is_none());
		assert_eq!(Votes::<Test>::iter_prefix(0).count(), 0);
	});
}

#[test]
fn proposal_fails_on_turnout() {
	build_and_execute(|| {
		assert_ok!(Staking::propose(signed(1), Box::new(set_params_call(5))));
		// 1000 of 6000 active voted: 16.7 % < 40 %.
		assert_ok!(Staking::vote(signed(1), 0, true));
		run_to_block(12);
		System::assert_last_event(
			Event::ProposalRejected { index: 0, ayes: 1000, nays: 0, turnout_reached: false }
				.into(),
		);
		assert_eq!(Parameters::<Test>::get().unwrap().validator_count, 3);
		assert_eq!(Balances::balance_on_hold(&HoldReason::ProposalDeposit.into(), &1), 0);
		assert!(ActiveProposals::<Test>::get().is_empty());
	});
}

#[test]
fn proposal_fails_on_approval() {
	build_and_execute(|| {
		assert_ok!(Staking::propose(signed(1), Box::new(set_params_call(5))));
		assert_ok!(Staking::vote(signed(2), 0, true));
		assert_ok!(Staking::vote(signed(3), 0, false));
		run_to_block(12);
		System::assert_last_event(
			Event::ProposalRejected { index: 0, ayes: 2000, nays: 3000, turnout_reached: true }
				.into(),
		);
		run_to_block(30);
		assert_eq!(Parameters::<Test>::get().unwrap().validator_count, 3);
	});
}

#[test]
fn finding_23_a_proposal_from_before_an_upgrade_is_not_decoded_by_the_new_runtime() {
	build_and_execute(|| {
		// The attack: an upgrade renumbers calls between approval and enactment, and the stored
		// bytes would decode as another call, dispatched as Root.
		assert_ok!(Staking::propose(signed(3), Box::new(set_params_call(7))));
		assert_eq!(Proposals::<Test>::get(0).unwrap().spec_version, 1);
		assert_ok!(Staking::vote(signed(3), 0, true));
		run_to_block(12);
		upgrade_to(2);
		run_to_block(12 + ENACTMENT_DELAY);
		System::assert_has_event(
			Event::ProposalEnacted {
				index: 0,
				result: Err(Error::<Test>::ProposedUnderOtherRuntime.into()),
			}
			.into(),
		);
		assert_eq!(Parameters::<Test>::get().unwrap().validator_count, 3, "nothing dispatched");
		let held = Balances::balance_on_hold(&HoldReason::ProposalDeposit.into(), &3);
		assert_eq!(held, 0, "the deposit comes back");
		// Proposed again under the new runtime, it passes.
		assert_ok!(Staking::propose(signed(3), Box::new(set_params_call(7))));
		assert_ok!(Staking::vote(signed(3), 1, true));
		run_to_block(28 + ENACTMENT_DELAY);
		System::assert_has_event(Event::ProposalEnacted { index: 1, result: Ok(()) }.into());
		assert_eq!(Parameters::<Test>::get().unwrap().validator_count, 7);
	});
}

/// `try_state` reconciles each proposer's deposit hold with its open proposals.
#[test]
fn finding_27_try_state_reconciles_proposal_deposits() {
	new_test_ext().execute_with(|| {
		assert_ok!(Staking::propose(signed(1), Box::new(set_params_call(7))));
		assert_ok!(Staking::do_try_state());
		Proposals::<Test>::mutate(0, |p| p.as_mut().unwrap().deposit = DEPOSIT - 1);
		assert_eq!(
			Staking::do_try_state(),
			Err("proposal deposit hold differs from the open proposals".into())
		);
	});
}

#[test]
fn a_failing_enacted_call_records_its_error() {
	build_and_execute(|| {
		// validator_count 9 > MaxCandidates: set_params rejects it when enacted.
		assert_ok!(Staking::propose(signed(3), Box::new(set_params_call(9))));
		assert_ok!(Staking::vote(signed(3), 0, true));
		run_to_block(12 + ENACTMENT_DELAY);
		System::assert_has_event(
			Event::ProposalEnacted { index: 0, result: Err(Error::<Test>::InvalidParams.into()) }
				.into(),
		);
		assert_eq!(Parameters::<Test>::get().unwrap().validator_count, 3);
	});
}

#[test]
fn cancel_returns_or_slashes_the_deposit() {
	build_and_execute(|| {
		assert_ok!(Staking::propose(signed(1), Box::new(set_params_call(5))));
		assert_ok!(Staking::propose(signed(2), Box::new(set_params_call(6))));
		assert_ok!(Staking::vote(signed(3), 1, true));
		assert_noop!(Staking::cancel_proposal(signed(1), 0, false), DispatchError::BadOrigin);
		assert_ok!(Staking::cancel_proposal(RuntimeOrigin::root(), 0, false));
		System::assert_last_event(
			Event::ProposalCancelled { index: 0, deposit_slashed: false }.into(),
		);
		assert_eq!(Balances::balance(&1), INITIAL - 1000);
		assert_ok!(Staking::cancel_proposal(RuntimeOrigin::root(), 1, true));
		assert_eq!(Balances::total_balance(&2), INITIAL - DEPOSIT);
		assert_eq!(Balances::balance(&TREASURY), 1 + DEPOSIT);
		assert_eq!(Votes::<Test>::iter_prefix(1).count(), 0);
		assert_noop!(
			Staking::cancel_proposal(RuntimeOrigin::root(), 1, true),
			Error::<Test>::UnknownProposal
		);
	});
}

#[test]
fn fast_track_enacts_an_approved_proposal_at_the_next_block() {
	build_and_execute(|| {
		assert_ok!(Staking::propose(signed(3), Box::new(set_params_call(4))));
		assert_noop!(Staking::fast_track(RuntimeOrigin::root(), 0), Error::<Test>::NotApproved);
		assert_ok!(Staking::vote(signed(3), 0, true));
		run_to_block(12);
		assert_ok!(Staking::fast_track(RuntimeOrigin::root(), 0));
		run_to_block(13);
		assert_eq!(Parameters::<Test>::get().unwrap().validator_count, 4);
	});
}

#[test]
fn propose_fails_for_bad_input() {
	build_and_execute(|| {
		assert_noop!(
			Staking::propose(signed(4), Box::new(set_params_call(5))),
			Error::<Test>::NoStake
		);
		let oversize =
			RuntimeCall::System(polkadot_sdk::frame_system::Call::remark { remark: vec![0; 200] });
		assert_noop!(Staking::propose(signed(1), Box::new(oversize)), Error::<Test>::CallTooLarge);
		for _ in 0..3 {
			assert_ok!(Staking::propose(signed(1), Box::new(set_params_call(5))));
		}
		assert_noop!(
			Staking::propose(signed(1), Box::new(set_params_call(5))),
			Error::<Test>::TooManyProposals
		);
	});
}

#[test]
fn vote_fails_for_bad_input() {
	build_and_execute(|| {
		assert_ok!(Staking::propose(signed(1), Box::new(set_params_call(5))));
		assert_noop!(Staking::vote(signed(4), 0, true), Error::<Test>::NoStake);
		assert_noop!(Staking::vote(signed(1), 7, true), Error::<Test>::UnknownProposal);
		assert_ok!(Staking::vote(signed(1), 0, true));
		assert_noop!(Staking::vote(signed(1), 0, false), Error::<Test>::AlreadyVoted);
		run_to_block(11);
		assert_ok!(Staking::vote(signed(2), 0, true));
		// The tally happens at block 12; in between (same block in a real chain, here simulated
		// by moving the number without the hook) voting is closed.
		System::set_block_number(12);
		assert_noop!(Staking::vote(signed(3), 0, true), Error::<Test>::VotingClosed);
	});
}

#[test]
fn a_vote_locks_the_voted_stake_until_voting_ends() {
	build_and_execute(|| {
		assert_ok!(Staking::propose(signed(1), Box::new(set_params_call(5))));
		assert_ok!(Staking::vote(signed(2), 0, false));
		// 2 voted with 2000: it may unbond nothing that would take it below 2000.
		assert_ok!(Staking::bond_extra(signed(2), 300));
		assert_ok!(Staking::unbond(signed(2), 300));
		assert_noop!(Staking::unbond(signed(2), 1), Error::<Test>::StakeLockedByVote);
		run_to_block(12);
		assert_ok!(Staking::unbond(signed(2), 1000));
	});
}

#[test]
fn set_params_validates_and_needs_root() {
	build_and_execute(|| {
		assert_noop!(Staking::set_params(signed(1), params()), DispatchError::BadOrigin);
		for bad in [
			Params { validator_count: 1, min_validator_count: 2, ..params() },
			Params { validator_count: 9, ..params() },
			Params { voting_period: 0, ..params() },
			Params { min_approval: Perbill::from_percent(49), ..params() },
			Params { min_validator_count: 0, ..params() },
		] {
			assert_noop!(
				Staking::set_params(RuntimeOrigin::root(), bad),
				Error::<Test>::InvalidParams
			);
		}
		let new = Params { voting_period: 3, ..params() };
		assert_ok!(Staking::set_params(RuntimeOrigin::root(), new.clone()));
		System::assert_last_event(Event::ParamsSet { params: new }.into());
	});
}

// ---- security review findings (named after the review's numbers) ----

/// Finding 1 (critical): a proposal's votes used to be first-come slots (1 024 on the runtime,
/// 8 here); sybils with a planck of stake each filled them, honest stakers got `TooManyVotes`,
/// and 43 % of the stake passed a Root call alone. Votes are now unlimited.
#[test]
fn finding_1_sybil_votes_cannot_lock_honest_stakers_out() {
	build_and_execute(|| {
		assert_ok!(Staking::bond(signed(4), 1000)); // an honest staker
		assert_ok!(Staking::propose(signed(3), Box::new(set_params_call(7)))); // the attacker
		assert_ok!(Staking::vote(signed(3), 0, true));
		for s in 100..120 {
			Balances::set_balance(&s, 10);
			assert_ok!(Staking::bond(signed(s), 1));
			assert_ok!(Staking::vote(signed(s), 0, true));
		}
		// Before the fix: `TooManyVotes` for all three.
		for honest in [1, 2, 4] {
			assert_ok!(Staking::vote(signed(honest), 0, false));
		}
		run_to_block(12);
		System::assert_has_event(
			Event::ProposalRejected { index: 0, ayes: 3020, nays: 4000, turnout_reached: true }
				.into(),
		);
		run_to_block(12 + ENACTMENT_DELAY);
		assert_eq!(Parameters::<Test>::get().unwrap().validator_count, 3);
		// 24 votes, 8 cleared per block: gone two blocks after the tally.
		assert_eq!(VotesToClear::<Test>::get().to_vec(), Vec::<u32>::new());
		assert_eq!(Votes::<Test>::iter_prefix(0).count(), 0);
	});
}

/// Finding 1: the proposals still open when voting ends are cleared a block's worth at a time,
/// not all at once and not never.
#[test]
fn finding_1_leftover_votes_are_cleared_block_by_block() {
	build_and_execute(|| {
		assert_ok!(Staking::propose(signed(1), Box::new(set_params_call(5))));
		for s in 100..120 {
			Balances::set_balance(&s, 10);
			assert_ok!(Staking::bond(signed(s), 1));
			assert_ok!(Staking::vote(signed(s), 0, false));
		}
		run_to_block(12); // rejected (turnout): 8 of 20 votes cleared
		assert_eq!(Votes::<Test>::iter_prefix(0).count(), 12);
		assert_eq!(VotesToClear::<Test>::get().to_vec(), vec![0]);
		run_to_block(13);
		assert_eq!(Votes::<Test>::iter_prefix(0).count(), 4);
		run_to_block(14);
		assert_eq!(Votes::<Test>::iter_prefix(0).count(), 0);
		assert!(VotesToClear::<Test>::get().is_empty());
	});
}

/// Finding 1 (freeze): one account used to fill the `MaxActiveProposals` queue for three
/// deposits; each proposal it already has open now doubles the next one's deposit.
#[test]
fn finding_1_each_open_proposal_doubles_the_proposers_deposit() {
	build_and_execute(|| {
		let held = |who| Balances::balance_on_hold(&HoldReason::ProposalDeposit.into(), &who);
		assert_ok!(Staking::propose(signed(1), Box::new(set_params_call(5))));
		assert_ok!(Staking::propose(signed(1), Box::new(set_params_call(6))));
		System::assert_last_event(
			Event::Proposed { index: 1, proposer: 1, deposit: 2 * DEPOSIT, voting_ends: 11 }.into(),
		);
		assert_ok!(Staking::propose(signed(2), Box::new(set_params_call(6))));
		assert_eq!((held(1), held(2)), (3 * DEPOSIT, DEPOSIT));
		// Once they end, the deposits come back and the next one is single again.
		run_to_block(12);
		assert_eq!((held(1), held(2)), (0, 0));
		assert_ok!(Staking::propose(signed(1), Box::new(set_params_call(5))));
		assert_eq!(held(1), DEPOSIT);
	});
}

/// Finding 12 (in part): every proposal due in a block used to be enacted in it, each call's
/// weight added after it ran, with no cap. Enactments past `MaxEnactmentWeight` now wait for the
/// next block.
#[test]
fn finding_12_enactments_beyond_the_weight_cap_wait_for_the_next_block() {
	use polkadot_sdk::frame_support::dispatch::GetDispatchInfo;
	build_and_execute(|| {
		MaxEnactmentWeight::set(set_params_call(7).get_dispatch_info().call_weight);
		assert_ok!(Staking::propose(signed(3), Box::new(set_params_call(7))));
		assert_ok!(Staking::propose(signed(2), Box::new(set_params_call(6))));
		for index in [0, 1] {
			assert_ok!(Staking::vote(signed(3), index, true));
			assert_ok!(Staking::vote(signed(2), index, true));
		}
		run_to_block(12 + ENACTMENT_DELAY);
		System::assert_has_event(Event::ProposalEnacted { index: 0, result: Ok(()) }.into());
		// Before the fix: both enacted here.
		assert!(Proposals::<Test>::get(1).is_some(), "no room left in this block");
		assert_eq!(Parameters::<Test>::get().unwrap().validator_count, 7);
		run_to_block(13 + ENACTMENT_DELAY);
		System::assert_has_event(Event::ProposalEnacted { index: 1, result: Ok(()) }.into());
		assert_eq!(Parameters::<Test>::get().unwrap().validator_count, 6);
	});
}

/// Finding 19: `unbonding_period` had no floor. At 0 (or the dev chain's 10 blocks, shorter than
/// one commit and reveal) a provider could unbond when assigned and withdraw before its result
/// was judged, dodging any slash. Parameters must now keep it at `MinUnbondingPeriod` (5 in the
/// mock; the runtime's is a job's longest life plus the verification after it).
#[test]
fn finding_19_the_unbonding_period_cannot_undercut_the_slash_window() {
	build_and_execute(|| {
		let min = MinUnbondingPeriod::get();
		for short in [0, 1, min - 1] {
			// Before the fix: `Ok`.
			assert_noop!(
				Staking::set_params(
					RuntimeOrigin::root(),
					Params { unbonding_period: short, ..params() }
				),
				Error::<Test>::InvalidParams
			);
		}
		assert_ok!(Staking::set_params(
			RuntimeOrigin::root(),
			Params { unbonding_period: min, ..params() }
		));
		// Stake unbonded now stays slashable, and held, for that long.
		assert_ok!(Staking::bond(signed(4), 100));
		let start = System::block_number();
		assert_ok!(Staking::unbond(signed(4), 100));
		run_to_block(start + min - 1);
		assert_noop!(Staking::withdraw_unbonded(signed(4)), Error::<Test>::NothingToWithdraw);
		assert_ok!(Staking::slash(RuntimeOrigin::root(), 4, 30, SlashReason::Governance));
		run_to_block(start + min);
		assert_ok!(Staking::withdraw_unbonded(signed(4)));
		assert_eq!(Balances::balance(&4), INITIAL - 30);
	});
}

/// Finding 20 (in part): `bond` took a planck, so a ledger (and with it a vote) cost nothing but
/// the existential deposit. Owners now keep `MinBond` active or nothing; a slash may leave less,
/// and `bond_extra` must bring such a ledger back to the minimum.
#[test]
fn finding_20_a_ledger_holds_at_least_the_minimum_bond_or_nothing() {
	build_and_execute(|| {
		MinBond::set(100);
		// Before the fix: `Ok` (a 1-planck ledger).
		assert_noop!(Staking::bond(signed(4), 1), Error::<Test>::BelowMinimumBond);
		assert_noop!(Staking::bond(signed(4), 99), Error::<Test>::BelowMinimumBond);
		assert_ok!(Staking::bond(signed(4), 100));
		// Unbonding leaves the minimum or nothing.
		assert_ok!(Staking::bond_extra(signed(4), 50));
		assert_noop!(Staking::unbond(signed(4), 51), Error::<Test>::BelowMinimumBond);
		assert_ok!(Staking::unbond(signed(4), 50));
		assert_ok!(Staking::unbond(signed(4), 100));
		assert_eq!(ledger(4).active, 0);
		// A slash below the minimum stands; topping up must reach it again.
		assert_ok!(Staking::bond_extra(signed(4), 100));
		assert_ok!(Staking::slash(RuntimeOrigin::root(), 4, 60, SlashReason::Governance));
		assert_eq!(ledger(4).active, 40);
		assert_noop!(Staking::bond_extra(signed(4), 59), Error::<Test>::BelowMinimumBond);
		assert_ok!(Staking::bond_extra(signed(4), 60));
		assert_eq!(ledger(4).active, 100);
	});
}
