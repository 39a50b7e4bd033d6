//! The logic behind the calls, the hook and [`TaskVerifier`]. Calls check everything before they
//! write; the hook reads what it needs before it writes, because hooks are not transactional.

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
use codec::Encode;
use polkadot_sdk::{
	frame_support::{
		ensure,
		pallet_prelude::*,
		traits::{
			fungible::{InspectHold, MutateHold},
			tokens::{Fortitude, Precision},
			Randomness,
		},
		BoundedVec,
	},
	frame_system::{self, pallet_prelude::BlockNumberFor},
	sp_core::H256,
	sp_runtime::{
		traits::{Saturating, Zero},
		Perbill,
	},
};
use verity_primitives::{
	cid::Cid,
	kernel::{AggregationRule, KernelId, KernelInspect},
	market::{JobId, TaskId, TaskInfo, TaskOutcome, TaskVerifier},
	merkle::verify_merkle_proof,
	staking::{ProviderStake, SlashReason},
};

use crate::{committee, pallet::*, types::*, WeightInfo};

/// How many blocks after the wanted one a closing may slide when blocks are full.
pub(crate) const SCHEDULE_PROBE: u32 = 16;

impl<T: Config> Pallet<T> {
	/// `true` if every window and committee is at least 1 and every bound fits the Config,
	/// including the exclusion list: an audit's group plus every committee its re-runs exclude
	/// must fit `MaxExcluded`, or an excluded verifier could silently be drawn again (security
	/// review, finding 21).
	pub fn params_are_valid(p: &ParamsOf<T>) -> bool {
		let excluded =
			T::MaxGroup::get().saturating_add(p.max_committee.saturating_mul(p.max_reruns));
		!p.commit_window.is_zero()
			&& !p.reveal_window.is_zero()
			&& !p.epoch_window.is_zero()
			&& p.training_committee >= T::MinVerifiers::get()
			&& p.audit_committee >= T::MinVerifiers::get()
			&& p.max_committee > T::MinVerifiers::get()
			&& p.max_committee <= T::MaxCommittee::get()
			&& p.training_committee <= p.max_committee
			&& p.audit_committee <= p.max_committee
			&& p.audits_per_epoch <= T::MaxAuditsPerEpoch::get()
			&& excluded <= T::MaxExcluded::get()
			&& Self::verification_span(p) <= T::MaxVerificationSpan::get()
	}

	/// The most blocks verification can run after a job's deadline under `p`: the last epoch's
	/// window and draw delay, then an audit round and the final verification round, each with
	/// all its re-runs, every closing slid by up to [`SCHEDULE_PROBE`] blocks.
	pub fn verification_span(p: &ParamsOf<T>) -> BlockNumberFor<T> {
		let probe: BlockNumberFor<T> = SCHEDULE_PROBE.into();
		let round = p.commit_window.saturating_add(p.reveal_window).saturating_add(probe);
		let rounds = p.max_reruns.saturating_add(1).saturating_mul(2);
		p.epoch_window
			.saturating_add(T::DrawDelay::get())
			.saturating_add(probe)
			.saturating_add(round.saturating_mul(rounds.into()))
	}

	fn params() -> Result<ParamsOf<T>, DispatchError> {
		Params::<T>::get().ok_or_else(|| Error::<T>::NoParams.into())
	}

	fn now() -> BlockNumberFor<T> {
		frame_system::Pallet::<T>::block_number()
	}

	/// The first block at or after `at` (within [`SCHEDULE_PROBE`]) with room for one more entry
	/// in the schedule of `epochs` ([`EpochSchedule`]) or of rounds ([`Schedule`]).
	fn find_slot(at: BlockNumberFor<T>, epochs: bool) -> Result<BlockNumberFor<T>, DispatchError> {
		let mut block = at;
		for _ in 0..SCHEDULE_PROBE {
			let used = match epochs {
				true => EpochSchedule::<T>::decode_len(block),
				false => Schedule::<T>::decode_len(block),
			};
			if (used.unwrap_or(0) as u64) < u64::from(T::MaxDuePerBlock::get()) {
				return Ok(block);
			}
			block = block.saturating_add(1u32.into());
		}
		Err(Error::<T>::ScheduleFull.into())
	}

	/// Puts `due` in its schedule at `block`: an epoch's close in [`EpochSchedule`], a round's
	/// draw or close in [`Schedule`].
	fn schedule(block: BlockNumberFor<T>, due: Due) {
		// Cannot fail: `find_slot` checked the room and nothing ran in between.
		let push = |list: &mut BoundedVec<Due, T::MaxDuePerBlock>| {
			let _ = list.try_push(due);
		};
		match due {
			Due::Epoch(..) => EpochSchedule::<T>::mutate(block, push),
			Due::Draw(..) | Due::Round(_) => Schedule::<T>::mutate(block, push),
		}
	}

	/// Randomness for `subject`: this block's fresh randomness (the parent block's VRF output in
	/// the runtime; its hash where a block has none) mixed with the subject.
	fn seed(subject: &impl Encode) -> [u8; 32] {
		let (random, _) = T::Randomness::random(&b"verity/poc"[..]);
		let random: Vec<u8> = random
			.map_or_else(|| frame_system::Pallet::<T>::parent_hash().encode(), |r| r.encode());
		polkadot_sdk::sp_io::hashing::blake2_256(&(random, subject).encode())
	}

	/// Registered verifiers that hold the minimum stake, other than `first` and the excluded.
	fn eligible(
		first: Option<&T::AccountId>,
		exclude: &[T::AccountId],
		excluded: &[T::AccountId],
	) -> Vec<T::AccountId> {
		Verifiers::<T>::get()
			.into_iter()
			.filter(|v| {
				first != Some(v)
					&& !exclude.contains(v)
					&& !excluded.contains(v)
					&& T::Staking::ensure_provider(v).is_ok()
			})
			.collect()
	}

	/// The commit and reveal windows of a round whose committee is known at `from`.
	fn windows(
		params: &ParamsOf<T>,
		from: BlockNumberFor<T>,
	) -> (BlockNumberFor<T>, BlockNumberFor<T>) {
		let commit_end = from.saturating_add(params.commit_window);
		(commit_end, commit_end.saturating_add(params.reveal_window))
	}

	#[allow(clippy::too_many_arguments)]
	/// Opens a round for `subject` with `need` verifiers drawn from the eligible ones not in
	/// `exclude` or `excluded`. A task's round (`first`, its provider, sits first and is not
	/// counted in the quorum) is reserved now and drawn [`Config::DrawDelay`] blocks later
	/// ([`Due::Draw`]) from randomness that does not exist yet, so a provider cannot time its
	/// submission to a committee it likes (finding 4); enough verifiers must be eligible now. An
	/// audit's round is drawn at once: it opens when its epoch closes, after every commitment it
	/// judges. Returns the round id.
	fn open_round(
		subject: Subject,
		kernel: KernelId,
		rule: AggregationRule,
		first: Option<T::AccountId>,
		need: u32,
		exclude: &[T::AccountId],
		excluded: BoundedVec<T::AccountId, T::MaxExcluded>,
		attempt: u32,
	) -> Result<RoundId, DispatchError> {
		let params = Self::params()?;
		let now = Self::now();
		let eligible = Self::eligible(first.as_ref(), exclude, &excluded);
		ensure!(eligible.len() >= need as usize, Error::<T>::NotEnoughVerifiers);
		let id = NextRound::<T>::get();
		let next = id.checked_add(1).ok_or(polkadot_sdk::sp_runtime::ArithmeticError::Overflow)?;
		let round = match first {
			Some(provider) => {
				let delay = T::DrawDelay::get().max(1u32.into());
				let draw_at = Self::find_slot(now.saturating_add(delay), false)?;
				let (commit_end, reveal_end) = Self::windows(&params, draw_at);
				let members = BoundedVec::try_from(alloc::vec![provider])
					.map_err(|_| Error::<T>::InvalidParams)?;
				Self::schedule(draw_at, Due::Draw(id, need));
				Self::deposit_event(Event::CommitteePending { round: id, subject, draw_at });
				Round { subject, kernel, rule, members, commit_end, reveal_end, attempt, excluded }
			}
			None => {
				let drawn = committee::draw(eligible, need as usize, &Self::seed(&(id, subject)))
					.ok_or(Error::<T>::NotEnoughVerifiers)?;
				let members: BoundedVec<T::AccountId, T::MaxCommittee> =
					BoundedVec::try_from(drawn).map_err(|_| Error::<T>::InvalidParams)?;
				let (commit_end, reveal_end) = Self::windows(&params, now);
				let close = Self::find_slot(reveal_end.saturating_add(1u32.into()), false)?;
				Self::schedule(close, Due::Round(id));
				Self::deposit_event(Event::CommitteeSelected {
					round: id,
					subject,
					members: members.to_vec(),
					commit_end,
					reveal_end,
					attempt,
				});
				Round { subject, kernel, rule, members, commit_end, reveal_end, attempt, excluded }
			}
		};
		NextRound::<T>::put(next);
		if let Subject::Task(task) = subject {
			TaskRounds::<T>::insert(task, id);
		}
		Rounds::<T>::insert(id, round);
		Ok(id)
	}

	/// Draws a task round's `need` verifiers with this block's randomness ([`Due::Draw`]) and
	/// starts its windows. A round whose task ended meanwhile ends quietly; one that cannot be
	/// drawn (too few verifiers left, no closing slot) fails its task as a last re-run would.
	fn draw(id: RoundId, need: u32) {
		let Some(mut round) = Rounds::<T>::get(id) else { return };
		let Subject::Task(task) = round.subject else { return };
		if T::Market::task(task).is_none() {
			return Self::drop_round(id, &round);
		}
		let Some(provider) = round.members.first().cloned() else { return };
		let now = Self::now();
		let drawn = Params::<T>::get().and_then(|params| {
			let eligible = Self::eligible(Some(&provider), &[], &round.excluded);
			let drawn =
				committee::draw(eligible, need as usize, &Self::seed(&(id, round.subject)))?;
			let members: BoundedVec<T::AccountId, T::MaxCommittee> =
				BoundedVec::try_from(core::iter::once(provider).chain(drawn).collect::<Vec<_>>())
					.ok()?;
			let (commit_end, reveal_end) = Self::windows(&params, now);
			let close = Self::find_slot(reveal_end.saturating_add(1u32.into()), false).ok()?;
			Some((members, commit_end, reveal_end, close))
		});
		let Some((members, commit_end, reveal_end, close)) = drawn else {
			Self::drop_round(id, &round);
			let _ = T::Market::task_failed(task);
			return;
		};
		round.members = members;
		round.commit_end = commit_end;
		round.reveal_end = reveal_end;
		Self::schedule(close, Due::Round(id));
		Self::deposit_event(Event::CommitteeSelected {
			round: id,
			subject: round.subject,
			members: round.members.to_vec(),
			commit_end,
			reveal_end,
			attempt: round.attempt,
		});
		Rounds::<T>::insert(id, round);
	}

	/// Removes a round that ends without a verdict, with its commitments and reveals.
	fn drop_round(id: RoundId, round: &Round<T>) {
		for member in &round.members {
			Commits::<T>::remove(id, member);
			Reveals::<T>::remove(id, member);
		}
		Rounds::<T>::remove(id);
		if let Subject::Task(task) = round.subject {
			TaskRounds::<T>::remove(task);
		}
		Self::deposit_event(Event::VerificationFailed { subject: round.subject });
	}

	/// Records a commitment.
	pub fn do_commit(who: T::AccountId, id: RoundId, commitment: H256) -> DispatchResult {
		let round = Rounds::<T>::get(id).ok_or(Error::<T>::UnknownRound)?;
		ensure!(round.members.contains(&who), Error::<T>::NotMember);
		ensure!(Self::now() <= round.commit_end, Error::<T>::CommitClosed);
		ensure!(!Commits::<T>::contains_key(id, &who), Error::<T>::AlreadyCommitted);
		Commits::<T>::insert(id, &who, commitment);
		Self::deposit_event(Event::Committed { round: id, member: who });
		Ok(())
	}

	/// Checks and records a reveal.
	pub fn do_reveal(
		who: T::AccountId,
		id: RoundId,
		reveal: Reveal,
		nonce: H256,
	) -> DispatchResult {
		let round = Rounds::<T>::get(id).ok_or(Error::<T>::UnknownRound)?;
		ensure!(round.members.contains(&who), Error::<T>::NotMember);
		let now = Self::now();
		ensure!(now > round.commit_end, Error::<T>::RevealNotOpen);
		ensure!(now <= round.reveal_end, Error::<T>::RevealClosed);
		let committed = Commits::<T>::get(id, &who).ok_or(Error::<T>::NoCommitment)?;
		ensure!(!Reveals::<T>::contains_key(id, &who), Error::<T>::AlreadyRevealed);
		ensure!(
			committee::commitment(id, &reveal.digest, &nonce, &who) == committed,
			Error::<T>::CommitmentMismatch
		);
		match round.rule {
			AggregationRule::NumericTolerance { len, .. } => {
				ensure!(reveal.summary.len() == usize::from(len), Error::<T>::WrongSummaryLength);
				ensure!(
					committee::summary_digest(&reveal.summary) == reveal.digest,
					Error::<T>::SummaryMismatch
				);
			}
			_ => ensure!(reveal.summary.is_empty(), Error::<T>::WrongSummaryLength),
		}
		let digest = reveal.digest;
		Reveals::<T>::insert(id, &who, reveal);
		Self::deposit_event(Event::Revealed { round: id, member: who, digest });
		Ok(())
	}

	/// Records a group member's epoch commitment; the first one opens the epoch.
	pub fn do_commit_epoch(
		who: T::AccountId,
		task: TaskId,
		epoch: u32,
		commit: EpochCommit,
	) -> DispatchResult {
		let info = T::Market::task(task).ok_or(Error::<T>::UnknownTask)?;
		ensure!(info.training, Error::<T>::NotTraining);
		ensure!(info.provider == who, Error::<T>::NotTaskProvider);
		// The job's count, not the member's (finding 3): a tree of one honest step would
		// otherwise pass every audit.
		ensure!(commit.steps == info.steps, Error::<T>::WrongSteps);
		ensure!(!EpochCommits::<T>::contains_key(task, epoch), Error::<T>::EpochAlreadyCommitted);
		// Only the job's epochs, one after the other: a task opens at most `epochs` of them
		// (finding 2), each only once the one before was committed.
		ensure!(
			epoch < info.epochs && epoch == NextEpoch::<T>::get(task),
			Error::<T>::EpochOutOfRange
		);
		let now = Self::now();
		let (mut state, close) = match Epochs::<T>::get(info.job, epoch) {
			Some(state) => {
				ensure!(
					state.status == EpochStatus::Open && now <= state.closes_at,
					Error::<T>::EpochClosed
				);
				(state, None)
			}
			None => {
				let params = Self::params()?;
				let closes_at = now.saturating_add(params.epoch_window);
				// Audits are drawn from randomness of a block after the last commitment's.
				let delay = T::DrawDelay::get().max(1u32.into());
				let slot = Self::find_slot(closes_at.saturating_add(delay), true)?;
				let state = Epoch {
					kernel: info.kernel,
					closes_at,
					members: BoundedVec::new(),
					status: EpochStatus::Open,
					start: LastCheckpoint::<T>::get(info.job),
					pending: 0,
					audits: 0,
					passed: 0,
				};
				(state, Some(slot))
			}
		};
		state.members.try_push(task).map_err(|_| Error::<T>::GroupTooLarge)?;
		// The commitment's storage is paid for while it lives (finding 2); the last check, so a
		// refused commitment holds nothing.
		let deposit = T::EpochDeposit::get();
		T::Currency::hold(&HoldReason::EpochCommit.into(), &who, deposit)
			.map_err(|_| Error::<T>::CannotPayDeposit)?;
		EpochDeposits::<T>::insert(task, epoch, (who.clone(), deposit));

		if let Some(slot) = close {
			Self::schedule(slot, Due::Epoch(info.job, epoch));
		}
		Epochs::<T>::insert(info.job, epoch, state);
		Self::deposit_event(Event::EpochCommitted {
			task,
			job: info.job,
			epoch,
			checkpoint: commit.checkpoint,
			root: commit.root,
			steps: commit.steps,
		});
		EpochCommits::<T>::insert(task, epoch, commit);
		NextEpoch::<T>::insert(task, epoch.saturating_add(1));
		Ok(())
	}

	/// Checks the audited member's leaf against its root.
	pub fn do_reveal_leaf(
		who: T::AccountId,
		id: AuditId,
		leaf: H256,
		proof: &[H256],
	) -> DispatchResult {
		let mut audit = Audits::<T>::get(id).ok_or(Error::<T>::UnknownAudit)?;
		ensure!(audit.member == who, Error::<T>::NotAudited);
		ensure!(audit.leaf.is_none(), Error::<T>::LeafAlreadyRevealed);
		let round = Rounds::<T>::get(audit.round).ok_or(Error::<T>::UnknownRound)?;
		ensure!(Self::now() <= round.reveal_end, Error::<T>::RevealClosed);
		let commit =
			EpochCommits::<T>::get(audit.task, audit.epoch).ok_or(Error::<T>::UnknownAudit)?;
		ensure!(
			verify_merkle_proof(&commit.root, commit.steps.into(), audit.step.into(), &leaf, proof),
			Error::<T>::InvalidProof
		);
		audit.leaf = Some(leaf);
		Audits::<T>::insert(id, audit);
		Self::deposit_event(Event::LeafRevealed { audit: id, leaf });
		Ok(())
	}

	/// The hook: draw and close the rounds due now, then close the epochs due now, within
	/// `MaxDueWeight` (at least one per block); the rest move to the next block with room in
	/// their schedule.
	pub fn do_on_initialize(now: BlockNumberFor<T>) -> Weight {
		let due = Schedule::<T>::take(now).into_iter().chain(EpochSchedule::<T>::take(now));
		let mut weight = T::DbWeight::get().reads_writes(2, 2);
		let budget = weight.saturating_add(T::MaxDueWeight::get());
		let mut handled = 0u32;
		for entry in due {
			let cost = match entry {
				Due::Draw(..) => T::WeightInfo::open_round(T::MaxVerifiers::get()),
				// The worst of the three ways a round closes (security review, finding 12); a
				// task's verdict goes to the market, which may complete and pay its job.
				Due::Round(_) => {
					Self::close_round_weight().saturating_add(T::Market::outcome_weight())
				}
				Due::Epoch(..) => T::WeightInfo::close_epoch(T::MaxAuditsPerEpoch::get()),
			};
			if handled > 0 && weight.saturating_add(cost).any_gt(budget) {
				weight = weight
					.saturating_add(T::DbWeight::get().reads_writes(u64::from(SCHEDULE_PROBE), 1));
				// With sixteen full blocks ahead it is handled now rather than lost.
				let epoch = matches!(entry, Due::Epoch(..));
				if let Ok(later) = Self::find_slot(now.saturating_add(1u32.into()), epoch) {
					Self::schedule(later, entry);
					continue;
				}
			}
			handled = handled.saturating_add(1);
			weight = weight.saturating_add(cost);
			match entry {
				Due::Draw(id, need) => Self::draw(id, need),
				Due::Round(id) => Self::close_round(id),
				Due::Epoch(job, epoch) => Self::close_epoch(job, epoch),
			}
		}
		weight
	}

	/// What closing a round of the largest committee may cost: all agree, a contested verdict
	/// (slashes with bounties), nobody shows (slashes and a re-run), or an audit that convicts
	/// its member and ends a full group's epoch (every deposit released or burnt).
	pub fn close_round_weight() -> Weight {
		let k = T::MaxCommittee::get();
		T::WeightInfo::close_round(k)
			.max(T::WeightInfo::close_round_contested(k))
			.max(T::WeightInfo::close_round_no_show(k))
			.max(T::WeightInfo::close_audit())
	}

	/// Slashes `who` `ratio` of its stake, and at least `collateral` (a provider judged on its
	/// own task: the value at risk, finding 15); [`Config::CatchBounty`] of it goes to
	/// `catchers`.
	fn penalise(
		round: RoundId,
		who: &T::AccountId,
		ratio: Perbill,
		collateral: u128,
		reason: SlashReason,
		catchers: &[T::AccountId],
	) {
		use polkadot_sdk::sp_runtime::traits::UniqueSaturatedFrom;
		let floor = T::StakeBalance::unique_saturated_from(collateral);
		let amount = T::Staking::slash_fraction_to(
			who,
			ratio,
			floor,
			reason,
			catchers,
			T::CatchBounty::get(),
		);
		Self::deposit_event(Event::Penalised { round, member: who.clone(), reason, amount });
	}

	/// Aggregates a round, slashes, and reports the verdict.
	fn close_round(id: RoundId) {
		let Some(round) = Rounds::<T>::take(id) else { return };
		// A task whose job ended meanwhile (deadline, cancellation): nothing to decide, nobody
		// to slash. The provider of a live one is slashed at least its task's collateral.
		let mut collateral = 0;
		if let Subject::Task(task) = round.subject {
			match T::Market::task(task) {
				Some(info) => collateral = info.collateral,
				None => return Self::drop_round(id, &round),
			}
		}
		let params = Params::<T>::get();
		let (no_reveal, dissent) = params
			.map_or((Perbill::zero(), Perbill::zero()), |p| (p.no_reveal_slash, p.dissent_slash));
		// A task's provider sits first and is judged by the verifiers: it is not counted in the
		// quorum (finding 11).
		let provider = match round.subject {
			Subject::Task(_) => round.members.first().cloned(),
			Subject::Audit(_) => None,
		};
		let mut own: Option<Reveal> = None;
		let mut revealed: Vec<(T::AccountId, Reveal)> = Vec::new();
		for member in &round.members {
			Commits::<T>::remove(id, member);
			match Reveals::<T>::take(id, member) {
				Some(r) if provider.as_ref() == Some(member) => own = Some(r),
				Some(r) => revealed.push((member.clone(), r)),
				// A silent provider is judged with the verdict below.
				None if provider.as_ref() == Some(member) => {}
				None => Self::penalise(id, member, no_reveal, 0, SlashReason::NoShow, &[]),
			}
		}
		let silent_provider = provider.as_ref().filter(|_| own.is_none());
		let verifiers = round.members.len().saturating_sub(usize::from(provider.is_some()));
		let reveals: Vec<Reveal> = revealed.iter().map(|(_, r)| r.clone()).collect();
		let outcome = committee::aggregate(&round.rule, verifiers, &reveals);
		let Some((lead, agreeing_idx)) = outcome else {
			if let Some(p) = silent_provider {
				Self::penalise(id, p, no_reveal, collateral, SlashReason::NoShow, &[]);
			}
			Self::deposit_event(Event::NoQuorum {
				round: id,
				subject: round.subject,
				attempt: round.attempt,
			});
			return Self::rerun(round);
		};
		let Some(lead_reveal) = reveals.get(lead).cloned() else { return };
		let provider_agrees =
			own.as_ref().is_some_and(|r| committee::agree(&round.rule, &lead_reveal, r));
		let mut agreeing: Vec<T::AccountId> =
			agreeing_idx.iter().filter_map(|i| revealed.get(*i).map(|(m, _)| m.clone())).collect();
		// Whoever the verifiers' verdict convicts pays the agreeing verifiers a bounty.
		for (member, _) in &revealed {
			if !agreeing.contains(member) {
				Self::penalise(id, member, dissent, 0, SlashReason::WrongResult, &agreeing);
			}
		}
		if let Some(p) = silent_provider {
			Self::penalise(id, p, no_reveal, collateral, SlashReason::NoShow, &agreeing);
		} else if let (Some(p), false) = (&provider, provider_agrees) {
			Self::penalise(id, p, dissent, collateral, SlashReason::WrongResult, &agreeing);
		}
		// The delivered result is the CID most agreeing members revealed (ties: the lead's), so a
		// member whose digest agrees cannot pass off an unrelated blob (finding 13).
		let mut cids: Vec<Cid> =
			agreeing_idx.iter().filter_map(|i| reveals.get(*i).map(|r| r.result)).collect();
		if let (true, Some(r)) = (provider_agrees, &own) {
			cids.push(r.result);
		}
		let count = |cid: &Cid| cids.iter().filter(|c| *c == cid).count();
		let mut best = (count(&lead_reveal.result), lead_reveal.result);
		for cid in &cids {
			let n = count(cid);
			if n > best.0 {
				best = (n, *cid);
			}
		}
		let accepted = Reveal { result: best.1, ..lead_reveal };
		let credited = agreeing.clone();
		if let (true, Some(p)) = (provider_agrees, &provider) {
			agreeing.insert(0, p.clone());
		}
		Self::deposit_event(Event::ResultAccepted {
			round: id,
			subject: round.subject,
			digest: accepted.digest,
			result: accepted.result,
			agreeing,
		});
		match round.subject {
			Subject::Task(task) => {
				TaskRounds::<T>::remove(task);
				NextEpoch::<T>::remove(task);
				// An audit that invalidated one of the task's epochs while the round ran still
				// stops the payment (finding 3).
				if provider_agrees && !Invalidated::<T>::contains_key(task) {
					let _ = T::Market::task_verified(task, accepted.result, &credited);
				} else {
					let _ = T::Market::task_rejected(task);
				}
			}
			Subject::Audit(audit) => {
				Self::finish_audit(audit, id, Some(accepted.digest), dissent, &credited)
			}
		}
	}

	/// A round without quorum: a fresh committee, or failure after `max_reruns`.
	fn rerun(round: Round<T>) {
		let max = Params::<T>::get().map_or(0, |p| p.max_reruns);
		let mut excluded = round.excluded.clone();
		// The task's provider stays; everyone drawn is excluded from the re-run.
		let skip = usize::from(matches!(round.subject, Subject::Task(_)));
		let drawn = round.members.iter().skip(skip);
		for m in drawn {
			if !excluded.contains(m) {
				let _ = excluded.try_push(m.clone());
			}
		}
		let reopened = if round.attempt < max {
			match round.subject {
				Subject::Task(_) => {
					let provider = round.members.first().cloned();
					let need = u32::try_from(round.members.len()).unwrap_or(1).saturating_sub(1);
					Self::open_round(
						round.subject,
						round.kernel,
						round.rule,
						provider,
						need,
						&[],
						excluded,
						round.attempt.saturating_add(1),
					)
					.map(|_| ())
				}
				Subject::Audit(audit) => Self::reopen_audit(audit, &round, excluded),
			}
		} else {
			Err(Error::<T>::NotEnoughVerifiers.into())
		};
		if reopened.is_err() {
			Self::deposit_event(Event::VerificationFailed { subject: round.subject });
			match round.subject {
				Subject::Task(task) => {
					TaskRounds::<T>::remove(task);
					let _ = T::Market::task_failed(task);
				}
				Subject::Audit(audit) => Self::finish_audit(audit, 0, None, Perbill::zero(), &[]),
			}
		}
	}

	/// The group members' providers, who may not verify their own group's steps.
	fn group_providers(job: u64, epoch: u32) -> Vec<T::AccountId> {
		Epochs::<T>::get(job, epoch)
			.map(|e| {
				e.members.iter().filter_map(|t| T::Market::task(*t)).map(|i| i.provider).collect()
			})
			.unwrap_or_default()
	}

	fn reopen_audit(
		audit_id: AuditId,
		round: &Round<T>,
		excluded: BoundedVec<T::AccountId, T::MaxExcluded>,
	) -> DispatchResult {
		let mut audit = Audits::<T>::get(audit_id).ok_or(Error::<T>::UnknownAudit)?;
		let group = Self::group_providers(audit.job, audit.epoch);
		let need = u32::try_from(round.members.len()).unwrap_or(1);
		let id = Self::open_round(
			round.subject,
			round.kernel,
			round.rule,
			None,
			need,
			&group,
			excluded,
			round.attempt.saturating_add(1),
		)?;
		audit.round = id;
		Audits::<T>::insert(audit_id, audit);
		Ok(())
	}

	/// Ends an audit: passed, or the member slashed (a bounty to `catchers`, the agreeing
	/// verifiers) and the epoch invalid; `None` when the verifiers never agreed (no verdict on the
	/// member).
	fn finish_audit(
		id: AuditId,
		round: RoundId,
		accepted: Option<H256>,
		slash: Perbill,
		catchers: &[T::AccountId],
	) {
		let Some(audit) = Audits::<T>::take(id) else { return };
		if let Some(digest) = accepted {
			// The verifiers that agreed did the audit's work: paid from the task's margin.
			T::Market::task_audited(audit.task, catchers);
			if audit.leaf == Some(digest) {
				Epochs::<T>::mutate(audit.job, audit.epoch, |e| {
					if let Some(e) = e {
						e.passed = e.passed.saturating_add(1);
					}
				});
				Self::deposit_event(Event::AuditPassed { audit: id });
			} else {
				let reason = if audit.leaf.is_some() {
					SlashReason::WrongResult
				} else {
					SlashReason::NoShow
				};
				// The member's whole task is at stake: its collateral is the floor.
				let task = T::Market::task(audit.task);
				let collateral = task.as_ref().map_or(0, |i| i.collateral);
				Self::penalise(round, &audit.member, slash, collateral, reason, catchers);
				// The task is invalid while it is the member's; a task that has moved on to
				// another provider (who did not train the epoch) is not.
				if task.is_some_and(|i| i.provider == audit.member) {
					Invalidated::<T>::insert(audit.task, audit.epoch);
				}
				Self::forfeit_deposit(audit.task, audit.epoch, &audit.member);
				Epochs::<T>::mutate(audit.job, audit.epoch, |e| {
					if let Some(e) = e {
						e.status = EpochStatus::Invalid;
					}
				});
				Self::deposit_event(Event::EpochInvalidated {
					job: audit.job,
					epoch: audit.epoch,
					task: audit.task,
					member: audit.member.clone(),
				});
			}
		}
		// The epoch's last audit ends it.
		let mut finished = None;
		Epochs::<T>::mutate(audit.job, audit.epoch, |e| {
			if let Some(e) = e {
				e.pending = e.pending.saturating_sub(1);
				if e.pending == 0 {
					finished = Some(e.clone());
				}
			}
		});
		if let Some(state) = finished {
			Self::end_epoch(audit.job, audit.epoch, &state);
		}
	}

	/// Burns the deposit behind `task`'s commitment of `epoch` if `member` paid it (an audit
	/// convicted it of a false commitment).
	fn forfeit_deposit(task: TaskId, epoch: u32, member: &T::AccountId) {
		let Some((payer, amount)) = EpochDeposits::<T>::get(task, epoch) else { return };
		if &payer != member {
			return;
		}
		EpochDeposits::<T>::remove(task, epoch);
		let burnt = T::Currency::burn_held(
			&HoldReason::EpochCommit.into(),
			&payer,
			amount,
			Precision::BestEffort,
			Fortitude::Force,
		)
		.unwrap_or_default();
		Self::deposit_event(Event::EpochDepositForfeited {
			task,
			epoch,
			member: payer,
			amount: burnt,
		});
	}

	/// Returns the deposit behind `task`'s commitment of `epoch` to whoever paid it.
	fn release_deposit(task: TaskId, epoch: u32) {
		if let Some((payer, amount)) = EpochDeposits::<T>::take(task, epoch) {
			// Best effort cannot fail: it releases what is held, up to `amount`.
			let _ = T::Currency::release(
				&HoldReason::EpochCommit.into(),
				&payer,
				amount,
				Precision::BestEffort,
			);
		}
	}

	/// An epoch's audits are over: its commitments move into `EpochHistory` unless an audit
	/// invalidated it, its working state goes, and the members' deposits come back (a
	/// convicted member's was burnt when its audit ended).
	fn end_epoch(job: JobId, epoch: u32, state: &Epoch<T>) {
		let mut commits = BoundedVec::new();
		for t in state.members.iter() {
			Self::release_deposit(*t, epoch);
			if let Some(c) = EpochCommits::<T>::take(t, epoch) {
				// Cannot fail: as many as `members`, which has the same bound.
				let _ = commits.try_push((*t, c));
			}
		}
		if state.status != EpochStatus::Invalid {
			EpochHistory::<T>::insert(
				job,
				epoch,
				EpochRecord {
					start: state.start,
					commits,
					audits: state.audits,
					passed: state.passed,
				},
			);
		}
		Epochs::<T>::remove(job, epoch);
	}

	/// Closes an epoch's commitments and draws its audits.
	fn close_epoch(job: u64, epoch: u32) {
		let Some(mut state) = Epochs::<T>::get(job, epoch) else { return };
		let Some(params) = Params::<T>::get() else { return };
		if let Some(first) = state.members.first() {
			if let Some(c) = EpochCommits::<T>::get(first, epoch) {
				LastCheckpoint::<T>::insert(job, c.checkpoint);
			}
		}
		state.status = EpochStatus::Auditing;
		let group: Vec<T::AccountId> =
			state.members.iter().filter_map(|t| T::Market::task(*t)).map(|i| i.provider).collect();
		// Gradient digests of one step on one device class are bit-identical when honest.
		let rule = AggregationRule::ExactDigest;
		let seed = Self::seed(&(job, epoch));
		let count = state.members.len() as u64;
		let mut drawn = Vec::new();
		let audits = params.audits_per_epoch.min(T::MaxAuditsPerEpoch::get());
		Epochs::<T>::insert(job, epoch, state.clone());
		for i in 0..u64::from(audits) {
			if count == 0 {
				break;
			}
			let member_idx = committee::pick(&seed, i.saturating_mul(2), count);
			let Some(task) = state.members.get(member_idx as usize).copied() else { continue };
			let Some(commit) = EpochCommits::<T>::get(task, epoch) else { continue };
			let step =
				committee::pick(&seed, i.saturating_mul(2).saturating_add(1), commit.steps.into())
					as u32;
			let Some(info) = T::Market::task(task) else { continue };
			let audit_id = NextAudit::<T>::get();
			// The audit's own id goes into the draw, so audits of one epoch get different
			// committees.
			match Self::open_round(
				Subject::Audit(audit_id),
				state.kernel,
				rule,
				None,
				params.audit_committee,
				&group,
				BoundedVec::new(),
				0,
			) {
				Ok(round) => {
					NextAudit::<T>::put(audit_id.saturating_add(1));
					Audits::<T>::insert(
						audit_id,
						Audit { job, epoch, task, member: info.provider, step, leaf: None, round },
					);
					state.pending = state.pending.saturating_add(1);
					state.audits = state.audits.saturating_add(1);
					Epochs::<T>::insert(job, epoch, state.clone());
					drawn.push((audit_id, task, step));
				}
				Err(_) => Self::deposit_event(Event::VerificationFailed {
					subject: Subject::Audit(audit_id),
				}),
			}
		}
		if drawn.is_empty() {
			Self::end_epoch(job, epoch, &state);
		}
		Self::deposit_event(Event::AuditsDrawn { job, epoch, audits: drawn });
	}

	/// Storage invariants: every task being verified has a live round of that task; every round
	/// has distinct members, the task's provider first (alone until its draw), and its audit (if any) points back at
	/// it; no reveal without a commitment; every commitment and reveal belongs to a live round's
	/// member; every audit's round is live and its epoch is auditing or invalid.
	#[cfg(any(feature = "try-runtime", feature = "std", test))]
	pub fn do_try_state() -> Result<(), polkadot_sdk::sp_runtime::TryRuntimeError> {
		for (task, id) in TaskRounds::<T>::iter() {
			let round = Rounds::<T>::get(id).ok_or("task without a live committee")?;
			ensure!(round.subject == Subject::Task(task), "task round of another subject");
		}
		for (id, round) in Rounds::<T>::iter() {
			let mut members = round.members.to_vec();
			members.sort();
			members.dedup();
			ensure!(members.len() == round.members.len(), "a member twice in one committee");
			ensure!(!round.members.is_empty(), "empty committee");
			match round.subject {
				Subject::Task(task) => {
					ensure!(TaskRounds::<T>::get(task) == Some(id), "round not the task's round");
				}
				Subject::Audit(a) => ensure!(
					Audits::<T>::get(a).map(|a| a.round) == Some(id),
					"audit round without its audit"
				),
			}
		}
		for (_, due) in Schedule::<T>::iter() {
			for id in due.iter().filter_map(|d| match d {
				Due::Draw(id, _) => Some(*id),
				_ => None,
			}) {
				let round = Rounds::<T>::get(id).ok_or("a draw of a closed round")?;
				ensure!(
					matches!(round.subject, Subject::Task(_)) && round.members.len() == 1,
					"a draw due for a round that has its committee"
				);
			}
		}
		for (id, member, _) in Reveals::<T>::iter() {
			ensure!(Commits::<T>::contains_key(id, &member), "reveal without commitment");
		}
		for (id, member, _) in Commits::<T>::iter() {
			let round = Rounds::<T>::get(id).ok_or("commitment of a closed round")?;
			ensure!(round.members.contains(&member), "commitment from a non-member");
		}
		// Nothing waits unscheduled: a round without its close (or its draw) would never end, an
		// open epoch without its close would hold its job forever (security review, finding 27).
		let due: Vec<Due> = Schedule::<T>::iter_values()
			.chain(EpochSchedule::<T>::iter_values())
			.flat_map(|d| d.into_inner())
			.collect();
		for (_, d) in EpochSchedule::<T>::iter() {
			ensure!(
				d.iter().all(|d| matches!(d, Due::Epoch(..))),
				"a round in the epochs' schedule"
			);
		}
		for (id, round) in Rounds::<T>::iter() {
			let drawing = round.members.len() == 1
				&& due.iter().any(|d| matches!(d, Due::Draw(r, _) if *r == id));
			ensure!(drawing || due.contains(&Due::Round(id)), "a round that never closes");
		}
		for (job, epoch, info) in Epochs::<T>::iter() {
			if info.status == EpochStatus::Open {
				ensure!(due.contains(&Due::Epoch(job, epoch)), "an open epoch that never closes");
			}
			let audits =
				Audits::<T>::iter_values().filter(|a| a.job == job && a.epoch == epoch).count();
			ensure!(
				usize::try_from(info.pending).ok() == Some(audits),
				"an epoch's pending count is not its live audits"
			);
			ensure!(
				info.passed.saturating_add(info.pending) <= info.audits,
				"an epoch counts more audits passed or running than it drew"
			);
		}
		// An epoch is live or kept in the history, never both; the history keeps only epochs
		// whose every drawn audit ended and none invalidated them.
		for (job, epoch, record) in EpochHistory::<T>::iter() {
			ensure!(
				!Epochs::<T>::contains_key(job, epoch),
				"an epoch both live and in the history"
			);
			ensure!(record.passed <= record.audits, "more audits passed than drawn");
			ensure!(!record.commits.is_empty(), "an epoch in the history without commitments");
		}
		let mut verifiers = Verifiers::<T>::get().into_inner();
		let registered = verifiers.len();
		verifiers.sort();
		verifiers.dedup();
		ensure!(verifiers.len() == registered, "a verifier registered twice");
		for (_, audit) in Audits::<T>::iter() {
			ensure!(Rounds::<T>::contains_key(audit.round), "audit without a live round");
			let epoch =
				Epochs::<T>::get(audit.job, audit.epoch).ok_or("audit of a closed epoch")?;
			ensure!(epoch.status != EpochStatus::Open, "audit of an open epoch");
			ensure!(
				EpochCommits::<T>::contains_key(audit.task, audit.epoch),
				"audit without the member's commitment"
			);
		}
		// Deposits back live commitments only, and the held balance is exactly their sum.
		let mut held: alloc::collections::BTreeMap<T::AccountId, BalanceOf<T>> = Default::default();
		for (task, epoch, (payer, amount)) in EpochDeposits::<T>::iter() {
			ensure!(
				EpochCommits::<T>::contains_key(task, epoch),
				"an epoch deposit without its commitment"
			);
			let sum = held.entry(payer).or_default();
			*sum = sum.saturating_add(amount);
		}
		for (payer, sum) in held {
			ensure!(
				T::Currency::balance_on_hold(&HoldReason::EpochCommit.into(), &payer) == sum,
				"an account's epoch hold is not the sum of its deposits"
			);
		}
		Ok(())
	}
}

impl<T: Config> TaskVerifier<T::AccountId> for Pallet<T> {
	fn verify(task: TaskId, info: &TaskInfo<T::AccountId>, _result: &Cid) -> DispatchResult {
		ensure!(!TaskRounds::<T>::contains_key(task), Error::<T>::AlreadyVerifying);
		ensure!(!Invalidated::<T>::contains_key(task), Error::<T>::EpochInvalid);
		if info.training {
			// Every epoch committed, and the last one's audits over (epochs close in order and
			// their audits run the same windows): no result goes ahead of its audits (finding 3).
			ensure!(NextEpoch::<T>::get(task) >= info.epochs, Error::<T>::EpochsMissing);
			ensure!(
				!Epochs::<T>::contains_key(info.job, info.epochs.saturating_sub(1)),
				Error::<T>::EpochNotAudited
			);
		}
		let params = Self::params()?;
		let kernel = T::Kernels::kernel(&info.kernel).ok_or(Error::<T>::UnknownKernel)?;
		// Verifiers besides the provider: at least the protocol's minimum (finding 11), and room
		// for the provider in the largest committee.
		let asked = if info.training { params.training_committee } else { info.committee };
		let need = asked.max(T::MinVerifiers::get()).min(params.max_committee.saturating_sub(1));
		// The buyer never judges work done for it, in this round or its re-runs (finding 26).
		let mut excluded = BoundedVec::new();
		excluded.try_push(info.buyer.clone()).map_err(|_| Error::<T>::InvalidParams)?;
		Self::open_round(
			Subject::Task(task),
			info.kernel,
			kernel.rule,
			Some(info.provider.clone()),
			need,
			&[],
			excluded,
			0,
		)
		.map(|_| ())
	}

	fn weight() -> Weight {
		T::WeightInfo::open_round(T::MaxVerifiers::get())
	}

	/// While the job is still training, the new provider commits from the job's next epoch to
	/// open (one past the newest any member committed: epochs open in order, at their first
	/// commitment), and an invalid epoch of its predecessor's no longer stops the task. Once every
	/// epoch has opened there is nothing left to train: the task keeps what it had, so a
	/// replacement cannot be paid for a group's finished work.
	fn task_reassigned(task: TaskId, info: &TaskInfo<T::AccountId>, group: &[TaskId]) {
		let opened = group.iter().map(NextEpoch::<T>::get).max().unwrap_or(0);
		if opened < info.epochs {
			NextEpoch::<T>::mutate(task, |next| *next = (*next).max(opened));
			Invalidated::<T>::remove(task);
		}
	}

	fn reassigned_weight() -> Weight {
		T::DbWeight::get().reads_writes(u64::from(T::MaxGroup::get()).saturating_add(2), 2)
	}

	/// The draw delay, the commit and reveal windows and the closing block.
	fn verification_blocks() -> u32 {
		Params::<T>::get().map_or(0, |p| {
			let blocks = T::DrawDelay::get()
				.saturating_add(p.commit_window)
				.saturating_add(p.reveal_window)
				.saturating_add(1u32.into());
			blocks.try_into().unwrap_or(u32::MAX)
		})
	}
}
