//! Rounds, reveals, epochs, audits and parameters.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use polkadot_sdk::{
	frame_support::{pallet_prelude::*, BoundedVec},
	frame_system::pallet_prelude::BlockNumberFor,
	sp_core::H256,
	sp_runtime::Perbill,
};
use scale_info::TypeInfo;
use verity_primitives::{
	cid::Cid,
	kernel::{AggregationRule, KernelId, MAX_SUMMARY_LEN},
	market::{JobId, TaskId},
};

use crate::Config;

/// A verification round's id: a counter, never reused.
pub type RoundId = u64;
/// An audit's id: a counter, never reused.
pub type AuditId = u64;
/// A revealed summary vector (numeric-tolerance rule), fixed point in units of 10^-9.
pub type Summary = BoundedVec<i64, ConstU32<{ MAX_SUMMARY_LEN as u32 }>>;
/// A CID as a call argument: binary CIDv1 or its base32 text, parsed on chain.
pub type CidInput = BoundedVec<u8, ConstU32<{ verity_primitives::cid::MAX_CID_INPUT }>>;

/// What a round verifies.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Debug,
)]
pub enum Subject {
	/// A marketplace task's result; the task's provider is the committee's first member.
	Task(TaskId),
	/// One training step of one group member, re-executed by verifiers outside the group.
	Audit(AuditId),
}

/// A committee's commit–reveal round.
#[derive(
	CloneNoBound, PartialEqNoBound, EqNoBound, Encode, Decode, MaxEncodedLen, TypeInfo, DebugNoBound,
)]
#[scale_info(skip_type_params(T))]
pub struct Round<T: Config> {
	/// What is verified.
	pub subject: Subject,
	/// The kernel whose rule decides agreement.
	pub kernel: KernelId,
	/// The rule, copied when the round opened.
	pub rule: AggregationRule,
	/// The committee, in draw order (for tasks, the provider first).
	pub members: BoundedVec<T::AccountId, T::MaxCommittee>,
	/// Last block for commitments.
	pub commit_end: BlockNumberFor<T>,
	/// Last block for reveals (reveals open the block after `commit_end`).
	pub reveal_end: BlockNumberFor<T>,
	/// 0 for the first round of a subject, then one more per re-run.
	pub attempt: u32,
	/// Drawn members of earlier rounds of the same subject: never drawn again for it.
	pub excluded: BoundedVec<T::AccountId, T::MaxExcluded>,
}

/// A member's reveal.
#[derive(Clone, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo, Debug)]
pub struct Reveal {
	/// The result digest (for numeric tolerance: sha2-256 of the summary, see the crate docs).
	pub digest: H256,
	/// The member's result blob.
	pub result: Cid,
	/// The summary vector (numeric tolerance only; empty otherwise).
	pub summary: Summary,
}

/// One group member's commitment for one training epoch.
#[derive(Clone, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo, Debug)]
pub struct EpochCommit {
	/// The checkpoint at the end of the epoch.
	pub checkpoint: Cid,
	/// Steps the member ran in the epoch (leaves of its tree).
	pub steps: u32,
	/// Merkle root of its per-step gradient digests.
	pub root: H256,
}

/// Where an epoch's audit stands.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Debug,
)]
pub enum EpochStatus {
	/// Members may still commit.
	Open,
	/// Audits drawn and running (or all passed).
	Auditing,
	/// An audited member's leaf disagreed with the verifiers: the epoch does not count.
	Invalid,
}

/// A training epoch of a job.
#[derive(
	CloneNoBound, PartialEqNoBound, EqNoBound, Encode, Decode, MaxEncodedLen, TypeInfo, DebugNoBound,
)]
#[scale_info(skip_type_params(T))]
pub struct Epoch<T: Config> {
	/// The kernel being trained.
	pub kernel: KernelId,
	/// Last block for commitments.
	pub closes_at: BlockNumberFor<T>,
	/// The member tasks that committed.
	pub members: BoundedVec<TaskId, T::MaxGroup>,
	/// Status.
	pub status: EpochStatus,
	/// The checkpoint the epoch started from (the previous epoch's, or none for the first).
	pub start: Option<Cid>,
	/// Audits still running.
	pub pending: u32,
	/// Audits drawn.
	pub audits: u32,
	/// Audits that passed.
	pub passed: u32,
}

/// A training epoch whose audits are over and found nothing wrong, kept for good: the job's
/// verified history, which a trained kernel version's lineage points at.
#[derive(
	CloneNoBound, PartialEqNoBound, EqNoBound, Encode, Decode, MaxEncodedLen, TypeInfo, DebugNoBound,
)]
#[scale_info(skip_type_params(T))]
pub struct EpochRecord<T: Config> {
	/// The checkpoint the epoch started from (none for the first: the kernel's own parameters).
	pub start: Option<Cid>,
	/// Each member's commitment (checkpoint, steps, step-digest root), in commit order.
	pub commits: BoundedVec<(TaskId, EpochCommit), T::MaxGroup>,
	/// Audits drawn from it.
	pub audits: u32,
	/// Audits that passed (the rest reached no verdict: no committee agreed).
	pub passed: u32,
}

/// One audited (member, step).
#[derive(
	CloneNoBound, PartialEqNoBound, EqNoBound, Encode, Decode, MaxEncodedLen, TypeInfo, DebugNoBound,
)]
#[scale_info(skip_type_params(T))]
pub struct Audit<T: Config> {
	/// The job.
	pub job: JobId,
	/// The epoch.
	pub epoch: u32,
	/// The audited member's task.
	pub task: TaskId,
	/// The audited member.
	pub member: T::AccountId,
	/// The audited step (leaf index).
	pub step: u32,
	/// The leaf the member revealed with a valid proof.
	pub leaf: Option<H256>,
	/// The verifiers' round.
	pub round: RoundId,
}

/// Governable verification parameters.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Debug,
	serde::Serialize,
	serde::Deserialize,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PocParams<BlockNumber> {
	/// Blocks members have to commit.
	pub commit_window: BlockNumber,
	/// Blocks members have to reveal, after the commit window.
	pub reveal_window: BlockNumber,
	/// Committee size for training tasks (inference jobs state theirs).
	pub training_committee: u32,
	/// Largest committee, whatever a job asks for.
	pub max_committee: u32,
	/// Share of stake slashed from a member that revealed a result the committee did not accept.
	pub dissent_slash: Perbill,
	/// Share of stake slashed from a member that did not reveal.
	pub no_reveal_slash: Perbill,
	/// Re-runs with a fresh committee after a round without quorum, before the task fails.
	pub max_reruns: u32,
	/// Audits drawn per training epoch (`s`).
	pub audits_per_epoch: u32,
	/// Verifiers per audit.
	pub audit_committee: u32,
	/// Blocks a training group has to commit an epoch, from its first commitment.
	pub epoch_window: BlockNumber,
}

/// The parameters of a runtime.
pub type ParamsOf<T> = PocParams<BlockNumberFor<T>>;

/// What the benchmarks need from the runtime: providers with stake and marketplace tasks.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper<AccountId> {
	/// Gives `who` balance and the minimum provider stake.
	fn make_provider(who: &AccountId);
	/// An accepted (not yet submitted) inference task whose job asks for `committee`; returns
	/// the task and its provider.
	fn make_task(committee: u32) -> (TaskId, AccountId);
	/// A training job of `steps` inner steps per epoch allocated to a group of `group`
	/// providers; returns the tasks and providers.
	fn make_group(group: u32, steps: u32) -> alloc::vec::Vec<(TaskId, AccountId)>;
	/// Submits `task`'s result as its provider, which hands it to verification.
	fn submit(task: TaskId, provider: &AccountId);
}
