//! Benchmarks of every call and of the per-block hook, each at its worst case: full candidate
//! lists, full unbonding ledgers, proposals with the most votes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::arithmetic_side_effects)]

use crate::{pallet::*, types::*, Pallet as Staking, SlashReason};
use alloc::{boxed::Box, vec};
use polkadot_sdk::{
	frame_benchmarking::v2::*,
	frame_support::traits::{fungible::Mutate, EnsureOrigin, Get},
	frame_system::{self, pallet_prelude::BlockNumberFor, RawOrigin},
	sp_runtime::traits::{One, Zero},
};

fn params<T: Config>() -> ParamsOf<T> {
	Parameters::<T>::get().unwrap_or_default()
}

/// A bond comfortably above every minimum.
fn stake<T: Config>() -> BalanceOf<T> {
	let p = params::<T>();
	(p.min_validator_bond.max(p.min_provider_bond) + 1_000u32.into()) * 2u32.into()
}

fn funded<T: Config>(name: &'static str, i: u32) -> T::AccountId {
	let who: T::AccountId = account(name, i, 0);
	let p = params::<T>();
	T::Currency::set_balance(
		&who,
		stake::<T>() * 100u32.into() + p.proposal_deposit * 10u32.into(),
	);
	who
}

fn bonded<T: Config>(name: &'static str, i: u32) -> T::AccountId {
	let who = funded::<T>(name, i);
	Staking::<T>::do_bond(&who, stake::<T>()).unwrap();
	who
}

/// Fills the candidate list up to `MaxCandidates - leave`.
fn fill_candidates<T: Config>(leave: u32) {
	let have = Candidates::<T>::get().len() as u32;
	for i in have..T::MaxCandidates::get().saturating_sub(leave) {
		let who = bonded::<T>("candidate", i);
		Staking::<T>::do_validate(&who).unwrap();
	}
}

/// Adds `MaxUnlockingChunks - leave` unbonding chunks to `who`'s ledger.
fn fill_chunks<T: Config>(who: &T::AccountId, leave: u32) {
	for _ in 0..T::MaxUnlockingChunks::get().saturating_sub(leave) {
		Staking::<T>::do_unbond(who, 1u32.into()).unwrap();
	}
}

/// A proposal (a small remark) by a fresh staker with `v` votes on it; returns its index.
fn proposal_with_votes<T: Config>(v: u32) -> u32
where
	<T as Config>::RuntimeCall: From<frame_system::Call<T>>,
{
	let index = NextProposal::<T>::get();
	// One proposer per proposal: an account's further proposals cost rising deposits (finding 1),
	// which a real runtime's deposit sizes make the benchmark account unable to pay.
	let proposer = bonded::<T>("proposer", index);
	let call: <T as Config>::RuntimeCall =
		frame_system::Call::<T>::remark { remark: vec![] }.into();
	Staking::<T>::do_propose(proposer, &call).unwrap();
	for i in 0..v {
		let voter = bonded::<T>("voter", i);
		Staking::<T>::do_vote(voter, index, i % 2 == 0).unwrap();
	}
	index
}

fn move_to<T: Config>(n: BlockNumberFor<T>) {
	frame_system::Pallet::<T>::set_block_number(n);
}

#[benchmarks(where <T as Config>::RuntimeCall: From<frame_system::Call<T>>)]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn bond() {
		let who = funded::<T>("staker", 0);
		let amount = stake::<T>();

		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), amount);

		assert_eq!(Ledgers::<T>::get(&who).unwrap().active, amount);
	}

	#[benchmark]
	fn bond_extra() {
		let who = bonded::<T>("staker", 0);
		let amount = stake::<T>();

		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), amount);

		assert_eq!(Ledgers::<T>::get(&who).unwrap().active, amount + amount);
	}

	/// A candidate with a vote lock and all but one chunk used unbonds below the minimum and is
	/// chilled out of a full candidate list.
	#[benchmark]
	fn unbond() {
		fill_candidates::<T>(1);
		let who = bonded::<T>("staker", 0);
		Staking::<T>::do_validate(&who).unwrap();
		fill_chunks::<T>(&who, 1);
		let index = proposal_with_votes::<T>(0);
		Staking::<T>::do_vote(who.clone(), index, true).unwrap();
		move_to::<T>(Proposals::<T>::get(index).unwrap().voting_ends + One::one());
		let amount = Ledgers::<T>::get(&who).unwrap().active;

		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), amount);

		assert!(!Candidates::<T>::get().contains(&who));
	}

	/// All chunks unlocked and withdrawn; the ledger is removed.
	#[benchmark]
	fn withdraw_unbonded() {
		let who = bonded::<T>("staker", 0);
		fill_chunks::<T>(&who, 1);
		let rest = Ledgers::<T>::get(&who).unwrap().active;
		Staking::<T>::do_unbond(&who, rest).unwrap();
		move_to::<T>(frame_system::Pallet::<T>::block_number() + params::<T>().unbonding_period);

		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()));

		assert!(Ledgers::<T>::get(&who).is_none());
	}

	#[benchmark]
	fn validate() {
		fill_candidates::<T>(1);
		let who = bonded::<T>("staker", 0);

		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()));

		assert!(Candidates::<T>::get().contains(&who));
	}

	#[benchmark]
	fn chill() {
		fill_candidates::<T>(1);
		let who = bonded::<T>("staker", 0);
		Staking::<T>::do_validate(&who).unwrap();

		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()));

		assert!(!Candidates::<T>::get().contains(&who));
	}

	/// Everything slashed, from active stake and every chunk; the ledger and candidacy go.
	#[benchmark]
	fn slash() -> Result<(), BenchmarkError> {
		let origin =
			T::SlashOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		fill_candidates::<T>(1);
		let who = bonded::<T>("staker", 0);
		Staking::<T>::do_validate(&who).unwrap();
		fill_chunks::<T>(&who, 0);
		let total = Ledgers::<T>::get(&who).unwrap().total().unwrap();

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, who.clone(), total, SlashReason::Equivocation);

		assert!(Ledgers::<T>::get(&who).is_none());
		Ok(())
	}

	/// A remark of `l` bytes (encoded call a few bytes more), with all but one proposal slot used.
	#[benchmark]
	fn propose(l: Linear<0, { T::MaxCallLen::get().saturating_sub(8) }>) {
		for _ in 0..T::MaxActiveProposals::get().saturating_sub(1) {
			proposal_with_votes::<T>(0);
		}
		let who = bonded::<T>("staker", 0);
		let call: <T as Config>::RuntimeCall =
			frame_system::Call::<T>::remark { remark: vec![1u8; l as usize] }.into();
		let index = NextProposal::<T>::get();

		#[extrinsic_call]
		_(RawOrigin::Signed(who), Box::new(call));

		assert!(Proposals::<T>::get(index).is_some());
	}

	#[benchmark]
	fn vote() {
		let index = proposal_with_votes::<T>(T::MaxVotesClearedPerBlock::get().saturating_sub(1));
		let who = bonded::<T>("staker", 0);

		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), index, true);

		assert!(Votes::<T>::contains_key(index, &who));
	}

	#[benchmark]
	fn cancel_proposal(
		v: Linear<0, { T::MaxVotesClearedPerBlock::get() }>,
	) -> Result<(), BenchmarkError> {
		let origin =
			T::CancelOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		let index = proposal_with_votes::<T>(v);

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, index, true);

		assert!(Proposals::<T>::get(index).is_none());
		Ok(())
	}

	#[benchmark]
	fn fast_track() -> Result<(), BenchmarkError> {
		let origin =
			T::FastTrackOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		let index = proposal_with_votes::<T>(0);
		let mut proposal = Proposals::<T>::get(index).unwrap();
		proposal.status = ProposalStatus::Approved { enact_at: 1_000_000u32.into() };
		Proposals::<T>::insert(index, proposal);

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, index);

		Ok(())
	}

	#[benchmark]
	fn set_params() -> Result<(), BenchmarkError> {
		let origin =
			T::AdminOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		let new = params::<T>();

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, new.clone());

		assert_eq!(Parameters::<T>::get(), Some(new));
		Ok(())
	}

	/// The hook with `p` proposals, none due.
	#[benchmark]
	fn on_initialize_idle(p: Linear<0, { T::MaxActiveProposals::get() }>) {
		for _ in 0..p {
			proposal_with_votes::<T>(0);
		}
		let now = frame_system::Pallet::<T>::block_number();

		#[block]
		{
			Staking::<T>::process_proposals(now);
		}
	}

	/// Tallying one proposal with `v` votes that is rejected (deposit returned, votes cleared).
	#[benchmark]
	fn on_initialize_tally(v: Linear<0, { T::MaxVotesClearedPerBlock::get() }>) {
		let index = proposal_with_votes::<T>(v);
		let due = Proposals::<T>::get(index).unwrap().voting_ends + One::one();
		// Make the tally reject it: raise the approval bar to everything.
		let mut p = params::<T>();
		p.min_approval = polkadot_sdk::sp_runtime::Perbill::one();
		Parameters::<T>::put(p);

		#[block]
		{
			Staking::<T>::process_proposals(due);
		}

		assert!(Proposals::<T>::get(index).is_none());
	}

	/// Enacting one approved proposal with `v` votes (the call's own weight is added at run time).
	#[benchmark]
	fn on_initialize_enact(v: Linear<0, { T::MaxVotesClearedPerBlock::get() }>) {
		let index = proposal_with_votes::<T>(v);
		let mut proposal = Proposals::<T>::get(index).unwrap();
		proposal.status = ProposalStatus::Approved { enact_at: Zero::zero() };
		Proposals::<T>::insert(index, proposal);
		let now = frame_system::Pallet::<T>::block_number();

		#[block]
		{
			Staking::<T>::process_proposals(now);
		}

		assert!(Proposals::<T>::get(index).is_none());
	}

	impl_benchmark_test_suite!(Staking, crate::mock::new_test_ext(), crate::mock::Test);
}
