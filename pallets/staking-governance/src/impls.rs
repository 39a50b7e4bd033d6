//! The logic behind the calls, the per-block hook, the session manager and the `ProviderStake`
//! trait. Every function checks all its preconditions before it writes.

#![cfg_attr(
	not(test),
	deny(
		clippy::unwrap_used,
		clippy::expect_used,
		clippy::indexing_slicing,
		clippy::arithmetic_side_effects
	)
)]

use alloc::vec::Vec;
use codec::{DecodeLimit, Encode};
use polkadot_sdk::sp_staking::{
	offence::{OffenceDetails, OnOffenceHandler},
	SessionIndex,
};
use polkadot_sdk::{
	frame_support::{
		dispatch::GetDispatchInfo,
		ensure,
		pallet_prelude::*,
		traits::{
			fungible::{hold::Balanced as BalancedHold, MutateHold},
			tokens::Precision,
			OnUnbalanced, UnfilteredDispatchable, ValidatorRegistration,
		},
		BoundedVec,
	},
	frame_system::{self, pallet_prelude::BlockNumberFor, RawOrigin},
	pallet_session::SessionManager,
	sp_runtime::{
		traits::{CheckedAdd, CheckedDiv, CheckedSub, One, Saturating, Zero},
		ArithmeticError, Perbill,
	},
};
use verity_primitives::staking::{ProviderStake, SlashReason};

use crate::{pallet::*, types::*, WeightInfo};

/// Nesting limit when decoding a stored call.
const CALL_DECODE_DEPTH: u32 = 64;

impl<T: Config> Pallet<T> {
	/// The running runtime's `spec_version`.
	fn spec_version() -> u32 {
		<T as polkadot_sdk::frame_system::Config>::Version::get().spec_version
	}

	fn params() -> Result<ParamsOf<T>, DispatchError> {
		Parameters::<T>::get().ok_or(Error::<T>::NoParams.into())
	}

	pub(crate) fn do_bond(who: &T::AccountId, amount: BalanceOf<T>) -> DispatchResult {
		ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
		let mut ledger = Ledgers::<T>::get(who)
			.unwrap_or(Ledger { active: Zero::zero(), unlocking: BoundedVec::new() });
		ledger.active = ledger.active.checked_add(&amount).ok_or(ArithmeticError::Overflow)?;
		ensure!(ledger.active >= T::MinBond::get(), Error::<T>::BelowMinimumBond);
		let total =
			TotalActive::<T>::get().checked_add(&amount).ok_or(ArithmeticError::Overflow)?;

		T::Currency::hold(&HoldReason::Staking.into(), who, amount)?;
		Ledgers::<T>::insert(who, ledger);
		TotalActive::<T>::put(total);
		Self::deposit_event(Event::Bonded { who: who.clone(), amount });
		Ok(())
	}

	pub(crate) fn do_unbond(who: &T::AccountId, amount: BalanceOf<T>) -> DispatchResult {
		let params = Self::params()?;
		let mut ledger = Ledgers::<T>::get(who).ok_or(Error::<T>::NotBonded)?;
		ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
		let remaining = ledger.active.checked_sub(&amount).ok_or(Error::<T>::InsufficientBond)?;
		ensure!(
			remaining.is_zero() || remaining >= T::MinBond::get(),
			Error::<T>::BelowMinimumBond
		);
		let now = frame_system::Pallet::<T>::block_number();
		if let Some((locked, until)) = VoteLocks::<T>::get(who) {
			ensure!(now > until || remaining >= locked, Error::<T>::StakeLockedByVote);
		}
		let unlock_at =
			now.checked_add(&params.unbonding_period).ok_or(ArithmeticError::Overflow)?;
		ledger
			.unlocking
			.try_push(UnlockChunk { value: amount, unlock_at })
			.map_err(|_| Error::<T>::TooManyUnlockingChunks)?;
		ledger.active = remaining;
		let total = TotalActive::<T>::get().saturating_sub(amount);
		let chill = remaining < params.min_validator_bond && Candidates::<T>::get().contains(who);

		Ledgers::<T>::insert(who, ledger);
		TotalActive::<T>::put(total);
		Self::deposit_event(Event::Unbonded { who: who.clone(), amount, unlock_at });
		if chill {
			Self::do_chill(who)?;
		}
		Ok(())
	}

	pub(crate) fn do_withdraw(who: &T::AccountId) -> DispatchResult {
		let mut ledger = Ledgers::<T>::get(who).ok_or(Error::<T>::NotBonded)?;
		let now = frame_system::Pallet::<T>::block_number();
		let mut amount = BalanceOf::<T>::zero();
		for chunk in ledger.unlocking.iter().filter(|c| c.unlock_at <= now) {
			amount = amount.checked_add(&chunk.value).ok_or(ArithmeticError::Overflow)?;
		}
		ensure!(!amount.is_zero(), Error::<T>::NothingToWithdraw);
		ledger.unlocking.retain(|c| c.unlock_at > now);

		T::Currency::release(&HoldReason::Staking.into(), who, amount, Precision::Exact)?;
		if ledger.active.is_zero() && ledger.unlocking.is_empty() {
			Ledgers::<T>::remove(who);
		} else {
			Ledgers::<T>::insert(who, ledger);
		}
		Self::deposit_event(Event::Withdrawn { who: who.clone(), amount });
		Ok(())
	}

	pub(crate) fn do_validate(who: &T::AccountId) -> DispatchResult {
		let params = Self::params()?;
		let ledger = Ledgers::<T>::get(who).ok_or(Error::<T>::NotBonded)?;
		ensure!(ledger.active >= params.min_validator_bond, Error::<T>::BelowValidatorMinimum);
		let mut candidates = Candidates::<T>::get();
		ensure!(!candidates.contains(who), Error::<T>::AlreadyCandidate);
		candidates.try_push(who.clone()).map_err(|_| Error::<T>::TooManyCandidates)?;
		Candidates::<T>::put(candidates);
		OffenceSlashes::<T>::remove(who);
		Self::deposit_event(Event::ValidatorCandidate { who: who.clone() });
		Ok(())
	}

	pub(crate) fn do_chill(who: &T::AccountId) -> DispatchResult {
		let mut candidates = Candidates::<T>::get();
		let before = candidates.len();
		candidates.retain(|c| c != who);
		ensure!(candidates.len() < before, Error::<T>::NotCandidate);
		Candidates::<T>::put(candidates);
		Self::deposit_event(Event::Chilled { who: who.clone() });
		Ok(())
	}

	/// Slashes up to `amount` from `who`: active stake first, then unbonding chunks, latest unlock
	/// first. Returns what was slashed (less than `amount` if the stake is smaller).
	pub(crate) fn do_slash(
		who: &T::AccountId,
		amount: BalanceOf<T>,
		reason: SlashReason,
	) -> BalanceOf<T> {
		Self::do_slash_to(who, amount, reason, &[], Perbill::zero())
	}

	/// Slashes `amount` of `who`'s stake; `share` of what was slashed goes to the accounts in
	/// `to` in equal parts (a part an account cannot take, below the existential deposit, goes
	/// with the rest to [`Config::Slashed`]).
	pub(crate) fn do_slash_to(
		who: &T::AccountId,
		amount: BalanceOf<T>,
		reason: SlashReason,
		to: &[T::AccountId],
		share: Perbill,
	) -> BalanceOf<T> {
		let Some(mut ledger) = Ledgers::<T>::get(who) else { return Zero::zero() };
		let mut left = amount;
		let from_active = left.min(ledger.active);
		ledger.active = ledger.active.saturating_sub(from_active);
		left = left.saturating_sub(from_active);
		for chunk in ledger.unlocking.iter_mut().rev() {
			let take = left.min(chunk.value);
			chunk.value = chunk.value.saturating_sub(take);
			left = left.saturating_sub(take);
		}
		ledger.unlocking.retain(|c| !c.value.is_zero());
		let wanted = amount.saturating_sub(left);

		let (mut credit, missing) = T::Currency::slash(&HoldReason::Staking.into(), who, wanted);
		let slashed = wanted.saturating_sub(missing);
		let count = BalanceOf::<T>::from(u32::try_from(to.len()).unwrap_or(u32::MAX));
		if !count.is_zero() {
			use polkadot_sdk::frame_support::traits::{fungible::Balanced, Imbalance};
			let each = share.mul_floor(credit.peek()).checked_div(&count).unwrap_or_default();
			for account in to {
				let (part, rest) = credit.split(each);
				credit = match T::Currency::resolve(account, part) {
					Ok(()) => rest,
					Err(part) => rest.merge(part),
				};
			}
		}
		T::Slashed::on_unbalanced(credit);
		TotalActive::<T>::mutate(|t| *t = t.saturating_sub(from_active));
		if ledger.active.is_zero() && ledger.unlocking.is_empty() {
			Ledgers::<T>::remove(who);
			Candidates::<T>::mutate(|c| c.retain(|x| x != who));
		} else {
			Ledgers::<T>::insert(who, ledger);
		}
		Self::deposit_event(Event::Slashed { who: who.clone(), amount: slashed, reason });
		slashed
	}

	pub(crate) fn do_propose(
		who: T::AccountId,
		call: &<T as Config>::RuntimeCall,
	) -> DispatchResult {
		let params = Self::params()?;
		let active = Ledgers::<T>::get(&who).map(|l| l.active).unwrap_or_default();
		ensure!(!active.is_zero(), Error::<T>::NoStake);
		let call: BoundedVec<u8, T::MaxCallLen> =
			call.encode().try_into().map_err(|_| Error::<T>::CallTooLarge)?;
		let index = NextProposal::<T>::get();
		let mut active_list = ActiveProposals::<T>::get();
		// Each proposal the account already has open doubles the deposit.
		let open = active_list
			.iter()
			.filter(|i| Proposals::<T>::get(**i).is_some_and(|p| p.proposer == who))
			.count();
		let deposit = (0..open).fold(params.proposal_deposit, |d, _| d.saturating_add(d));
		active_list.try_push(index).map_err(|_| Error::<T>::TooManyProposals)?;
		let now = frame_system::Pallet::<T>::block_number();
		let voting_ends =
			now.checked_add(&params.voting_period).ok_or(ArithmeticError::Overflow)?;
		let next = index.checked_add(1).ok_or(ArithmeticError::Overflow)?;

		T::Currency::hold(&HoldReason::ProposalDeposit.into(), &who, deposit)?;
		Proposals::<T>::insert(
			index,
			Proposal {
				proposer: who.clone(),
				call,
				spec_version: Self::spec_version(),
				deposit,
				voting_ends,
				ayes: Zero::zero(),
				nays: Zero::zero(),
				voters: 0,
				status: ProposalStatus::Voting,
			},
		);
		ActiveProposals::<T>::put(active_list);
		NextProposal::<T>::put(next);
		Self::deposit_event(Event::Proposed { index, proposer: who, deposit, voting_ends });
		Ok(())
	}

	pub(crate) fn do_vote(who: T::AccountId, index: u32, aye: bool) -> DispatchResult {
		let stake = Ledgers::<T>::get(&who).map(|l| l.active).unwrap_or_default();
		ensure!(!stake.is_zero(), Error::<T>::NoStake);
		let mut proposal = Proposals::<T>::get(index).ok_or(Error::<T>::UnknownProposal)?;
		let now = frame_system::Pallet::<T>::block_number();
		ensure!(
			proposal.status == ProposalStatus::Voting && now <= proposal.voting_ends,
			Error::<T>::VotingClosed
		);
		ensure!(!Votes::<T>::contains_key(index, &who), Error::<T>::AlreadyVoted);
		if aye {
			proposal.ayes = proposal.ayes.checked_add(&stake).ok_or(ArithmeticError::Overflow)?;
		} else {
			proposal.nays = proposal.nays.checked_add(&stake).ok_or(ArithmeticError::Overflow)?;
		}
		proposal.voters = proposal.voters.saturating_add(1);
		let lock = match VoteLocks::<T>::get(&who) {
			Some((amount, until)) if until >= now => {
				(amount.max(stake), until.max(proposal.voting_ends))
			}
			_ => (stake, proposal.voting_ends),
		};

		Proposals::<T>::insert(index, proposal);
		Votes::<T>::insert(index, &who, Vote { aye, stake });
		VoteLocks::<T>::insert(&who, lock);
		Self::deposit_event(Event::Voted { index, voter: who, aye, stake });
		Ok(())
	}

	pub(crate) fn do_cancel(index: u32, slash_deposit: bool) -> DispatchResult {
		let proposal = Proposals::<T>::get(index).ok_or(Error::<T>::UnknownProposal)?;
		if slash_deposit {
			let (credit, _) = T::Currency::slash(
				&HoldReason::ProposalDeposit.into(),
				&proposal.proposer,
				proposal.deposit,
			);
			T::Slashed::on_unbalanced(credit);
		} else {
			Self::release_deposit(&proposal);
		}
		Self::remove_proposal(index);
		Self::deposit_event(Event::ProposalCancelled { index, deposit_slashed: slash_deposit });
		Ok(())
	}

	pub(crate) fn do_fast_track(index: u32) -> DispatchResult {
		let mut proposal = Proposals::<T>::get(index).ok_or(Error::<T>::UnknownProposal)?;
		ensure!(
			matches!(proposal.status, ProposalStatus::Approved { .. }),
			Error::<T>::NotApproved
		);
		let next = frame_system::Pallet::<T>::block_number().saturating_add(1u32.into());
		proposal.status = ProposalStatus::Approved { enact_at: next };
		Proposals::<T>::insert(index, proposal);
		Ok(())
	}

	fn release_deposit(proposal: &ProposalOf<T>) {
		// The deposit was held by `propose`; releasing it cannot fail unless storage is corrupt,
		// in which case `try_state` reports it.
		let _ = T::Currency::release(
			&HoldReason::ProposalDeposit.into(),
			&proposal.proposer,
			proposal.deposit,
			Precision::BestEffort,
		);
	}

	fn remove_proposal(index: u32) {
		Proposals::<T>::remove(index);
		ActiveProposals::<T>::mutate(|list| list.retain(|i| *i != index));
		if Self::clear_votes(index).1 {
			// More votes than a block clears: the rest go in the next blocks.
			let _ = VotesToClear::<T>::try_mutate(|l| l.try_push(index));
		}
	}

	/// Removes up to `MaxVotesClearedPerBlock` votes of proposal `index`; returns how many and
	/// whether any are left.
	fn clear_votes(index: u32) -> (u32, bool) {
		let limit = T::MaxVotesClearedPerBlock::get();
		let voters: Vec<T::AccountId> =
			Votes::<T>::iter_key_prefix(index).take(limit.saturating_add(1) as usize).collect();
		let more = voters.len() > limit as usize;
		let removed = voters.len().min(limit as usize);
		for voter in voters.into_iter().take(removed) {
			Votes::<T>::remove(index, voter);
		}
		(u32::try_from(removed).unwrap_or(limit), more)
	}

	/// Clears up to `MaxVotesClearedPerBlock` leftover votes of one ended proposal.
	fn clear_leftover_votes() -> Weight {
		let mut todo = VotesToClear::<T>::get();
		let db = T::DbWeight::get();
		let Some(index) = todo.first().copied() else { return db.reads(1) };
		let (removed, more) = Self::clear_votes(index);
		if !more {
			todo.remove(0);
			VotesToClear::<T>::put(todo);
		}
		db.reads_writes(u64::from(removed).saturating_add(2), u64::from(removed).saturating_add(1))
	}

	/// The per-block hook: tally proposals whose voting ended, enact approved ones that are due.
	pub(crate) fn process_proposals(now: BlockNumberFor<T>) -> Weight {
		let active = ActiveProposals::<T>::get();
		let mut weight = T::WeightInfo::on_initialize_idle(active.len() as u32)
			.saturating_add(Self::clear_leftover_votes());
		let Some(params) = Parameters::<T>::get() else { return weight };
		let mut enactment_weight = Weight::zero();
		let mut enacted = 0u32;
		for index in active {
			let Some(mut proposal) = Proposals::<T>::get(index) else { continue };
			match proposal.status {
				ProposalStatus::Voting if now > proposal.voting_ends => {
					weight.saturating_accrue(T::WeightInfo::on_initialize_tally(
						proposal.voters.min(T::MaxVotesClearedPerBlock::get()),
					));
					let (ayes, nays) = (proposal.ayes, proposal.nays);
					let voted = ayes.saturating_add(nays);
					let total = TotalActive::<T>::get().max(voted);
					let turnout_reached = !voted.is_zero()
						&& Perbill::from_rational(voted, total) >= params.min_turnout;
					let approved = turnout_reached
						&& Perbill::from_rational(ayes, voted) > params.min_approval;
					if approved {
						let enact_at = now.saturating_add(params.enactment_delay);
						proposal.status = ProposalStatus::Approved { enact_at };
						Proposals::<T>::insert(index, proposal);
						Self::deposit_event(Event::ProposalApproved {
							index,
							ayes,
							nays,
							enact_at,
						});
					} else {
						Self::release_deposit(&proposal);
						Self::remove_proposal(index);
						Self::deposit_event(Event::ProposalRejected {
							index,
							ayes,
							nays,
							turnout_reached,
						});
					}
				}
				ProposalStatus::Approved { enact_at } if now >= enact_at => {
					// Bytes proposed under another runtime might decode as another call.
					let same_runtime = proposal.spec_version == Self::spec_version();
					let call = if same_runtime {
						<T as Config>::RuntimeCall::decode_all_with_depth_limit(
							CALL_DECODE_DEPTH,
							&mut &proposal.call[..],
						)
						.map_err(|_| Error::<T>::UndecodableCall)
					} else {
						Err(Error::<T>::ProposedUnderOtherRuntime)
					};
					let call_weight = call
						.as_ref()
						.map(|c| c.get_dispatch_info().call_weight)
						.unwrap_or_default();
					let total = enactment_weight.saturating_add(call_weight);
					if enacted > 0 && total.any_gt(T::MaxEnactmentWeight::get()) {
						// No room left in this block: the next one enacts it.
						proposal.status =
							ProposalStatus::Approved { enact_at: now.saturating_add(One::one()) };
						Proposals::<T>::insert(index, proposal);
						weight.saturating_accrue(T::DbWeight::get().writes(1));
						continue;
					}
					enacted = enacted.saturating_add(1);
					enactment_weight = total;
					weight.saturating_accrue(T::WeightInfo::on_initialize_enact(
						proposal.voters.min(T::MaxVotesClearedPerBlock::get()),
					));
					let result = match call {
						Ok(call) => {
							weight.saturating_accrue(call_weight);
							call.dispatch_bypass_filter(RawOrigin::Root.into())
								.map(|_| ())
								.map_err(|e| e.error)
						}
						Err(e) => Err(e.into()),
					};
					Self::release_deposit(&proposal);
					Self::remove_proposal(index);
					Self::deposit_event(Event::ProposalEnacted { index, result });
				}
				_ => {}
			}
		}
		weight
	}

	/// The top `validator_count` candidates with session keys and enough stake, by active stake
	/// (ties by account id, ascending).
	pub fn elect() -> Vec<T::AccountId> {
		let Some(params) = Parameters::<T>::get() else { return Vec::new() };
		let mut electable: Vec<(T::AccountId, BalanceOf<T>)> = Candidates::<T>::get()
			.into_iter()
			.filter(T::ValidatorRegistration::is_registered)
			.filter_map(|c| {
				let active = Ledgers::<T>::get(&c)?.active;
				(active >= params.min_validator_bond).then_some((c, active))
			})
			.collect();
		electable.sort_by(|(a, sa), (b, sb)| sb.cmp(sa).then_with(|| a.cmp(b)));
		electable.truncate(params.validator_count as usize);
		electable.into_iter().map(|(c, _)| c).collect()
	}

	/// Storage invariants.
	#[cfg(any(feature = "try-runtime", feature = "std", test))]
	pub fn do_try_state() -> Result<(), polkadot_sdk::sp_runtime::TryRuntimeError> {
		use polkadot_sdk::frame_support::traits::fungible::InspectHold;
		let mut active_sum = BalanceOf::<T>::zero();
		for (who, ledger) in Ledgers::<T>::iter() {
			let total = ledger.total().ok_or("ledger overflow")?;
			ensure!(!total.is_zero(), "empty ledger kept");
			ensure!(
				T::Currency::balance_on_hold(&HoldReason::Staking.into(), &who) == total,
				"staking hold differs from the ledger"
			);
			active_sum = active_sum.checked_add(&ledger.active).ok_or("active overflow")?;
		}
		ensure!(active_sum == TotalActive::<T>::get(), "TotalActive differs from the ledgers");
		for c in Candidates::<T>::get() {
			ensure!(Ledgers::<T>::contains_key(&c), "candidate without a ledger");
		}
		let active = ActiveProposals::<T>::get();
		for (index, proposal) in Proposals::<T>::iter() {
			ensure!(active.contains(&index), "proposal not in the active list");
			let (mut ayes, mut nays, mut voters) =
				(BalanceOf::<T>::zero(), BalanceOf::<T>::zero(), 0u32);
			for (_, vote) in Votes::<T>::iter_prefix(index) {
				if vote.aye {
					ayes = ayes.saturating_add(vote.stake);
				} else {
					nays = nays.saturating_add(vote.stake);
				}
				voters = voters.saturating_add(1);
			}
			ensure!(
				(ayes, nays, voters) == (proposal.ayes, proposal.nays, proposal.voters),
				"tally differs from the votes"
			);
		}
		ensure!(active.len() == Proposals::<T>::iter_keys().count(), "dangling active index");
		// Each proposer's deposit hold is what its open proposals hold (security review,
		// finding 27).
		let mut deposits: Vec<(T::AccountId, BalanceOf<T>)> = Vec::new();
		for proposal in Proposals::<T>::iter_values() {
			match deposits.iter_mut().find(|(who, _)| *who == proposal.proposer) {
				Some((_, sum)) => *sum = sum.saturating_add(proposal.deposit),
				None => deposits.push((proposal.proposer, proposal.deposit)),
			}
		}
		for (who, sum) in deposits {
			ensure!(
				T::Currency::balance_on_hold(&HoldReason::ProposalDeposit.into(), &who) == sum,
				"proposal deposit hold differs from the open proposals"
			);
		}
		Ok(())
	}
}

impl<T: Config> SessionManager<T::AccountId> for Pallet<T> {
	fn new_session(new_index: u32) -> Option<Vec<T::AccountId>> {
		let params = Parameters::<T>::get()?;
		let elected = Self::elect();
		if (elected.len() as u32) < params.min_validator_count {
			Self::deposit_event(Event::ElectionSkipped {
				session: new_index,
				electable: elected.len() as u32,
			});
			return None;
		}
		ElectedValidators::<T>::put(BoundedVec::truncate_from(elected.clone()));
		Self::deposit_event(Event::ValidatorsElected {
			session: new_index,
			validators: elected.clone(),
		});
		Some(elected)
	}

	fn new_session_genesis(_new_index: u32) -> Option<Vec<T::AccountId>> {
		// Genesis validators come from pallet-session's own genesis keys.
		None
	}

	fn end_session(_end_index: u32) {}

	fn start_session(_start_index: u32) {}
}

/// Offences from `pallet-offences` (BABE and GRANDPA equivocations). The offender is identified
/// by its account (the session's validator id) and whatever full identification the runtime's
/// historical sessions keep; only the account matters here. Each offender is slashed what the
/// offence's fraction adds to the highest fraction already slashed since it last declared
/// candidacy, as a fraction of its stake (bonded and unbonding) when first punished, the
/// reporters (but the offender itself) get [`Config::ReporterShare`] of it, and it is chilled.
impl<T: Config, F> OnOffenceHandler<T::AccountId, (T::AccountId, F), Weight> for Pallet<T> {
	fn on_offence(
		offenders: &[OffenceDetails<T::AccountId, (T::AccountId, F)>],
		slash_fraction: &[Perbill],
		session: SessionIndex,
	) -> Weight {
		let db = T::DbWeight::get();
		let mut weight = Weight::zero();
		for (details, fraction) in offenders.iter().zip(slash_fraction) {
			let who = &details.offender.0;
			// An offender whose own block carried the report is not paid for it.
			let reporters: Vec<T::AccountId> =
				details.reporters.iter().filter(|r| *r != who).cloned().collect();
			// OffenceSlashes, Ledgers.
			weight = weight.saturating_add(db.reads(2));
			let stake = Ledgers::<T>::get(who).and_then(|l| l.total()).unwrap_or_default();
			let (before, base) = OffenceSlashes::<T>::get(who).unwrap_or((Perbill::zero(), stake));
			if *fraction <= before {
				continue;
			}
			let owed = fraction.mul_floor(base).saturating_sub(before.mul_floor(base));
			OffenceSlashes::<T>::insert(who, (*fraction, base));
			Self::do_slash_to(
				who,
				owed,
				SlashReason::Equivocation,
				&reporters,
				T::ReporterShare::get(),
			);
			let _ = Self::do_chill(who);
			Self::deposit_event(Event::OffencePunished {
				who: who.clone(),
				session,
				fraction: *fraction,
			});
			// The slash (ledger, hold, account, total active, candidates), each reporter's
			// account, the record, the chill.
			let reporters = u64::try_from(reporters.len()).unwrap_or(u64::MAX);
			weight = weight.saturating_add(
				db.reads_writes(6u64.saturating_add(reporters), 7u64.saturating_add(reporters)),
			);
		}
		weight
	}
}

impl<T: Config> ProviderStake<T::AccountId, BalanceOf<T>> for Pallet<T> {
	fn active_stake(who: &T::AccountId) -> BalanceOf<T> {
		Ledgers::<T>::get(who).map(|l| l.active).unwrap_or_default()
	}

	fn ensure_provider(who: &T::AccountId) -> DispatchResult {
		let params = Self::params()?;
		ensure!(
			Self::active_stake(who) >= params.min_provider_bond,
			Error::<T>::BelowProviderMinimum
		);
		Ok(())
	}

	fn slash(who: &T::AccountId, amount: BalanceOf<T>, reason: SlashReason) -> BalanceOf<T> {
		Self::do_slash(who, amount, reason)
	}

	fn slash_fraction(who: &T::AccountId, fraction: Perbill, reason: SlashReason) -> BalanceOf<T> {
		let total = Ledgers::<T>::get(who).and_then(|l| l.total()).unwrap_or_default();
		Self::do_slash(who, fraction.mul_floor(total), reason)
	}

	fn slash_fraction_to(
		who: &T::AccountId,
		fraction: Perbill,
		floor: BalanceOf<T>,
		reason: SlashReason,
		to: &[T::AccountId],
		share: Perbill,
	) -> BalanceOf<T> {
		let total = Ledgers::<T>::get(who).and_then(|l| l.total()).unwrap_or_default();
		// `do_slash_to` takes what there is: at most the whole stake.
		Self::do_slash_to(who, fraction.mul_floor(total).max(floor), reason, to, share)
	}
}
