//! How the marketplace hands tasks to verification and how verification reports back.
//!
//! A job is split into tasks, one per assigned provider. When a provider submits a task's result,
//! the marketplace calls [`TaskVerifier::verify`] (implemented by the proof-of-compute pallet);
//! when verification ends, the verifier calls [`TaskOutcome::task_verified`] or
//! [`TaskOutcome::task_rejected`] (implemented by the marketplace), which pays or reassigns.

use crate::{cid::Cid, kernel::KernelId};
use codec::{Decode, Encode, MaxEncodedLen};
use polkadot_sdk::sp_runtime::{DispatchResult, Weight};
use scale_info::TypeInfo;

/// A job's id: a counter, never reused.
pub type JobId = u64;
/// A task's id: a counter, never reused.
pub type TaskId = u64;

/// What a verifier needs to know about a task.
#[derive(Clone, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo, Debug)]
pub struct TaskInfo<AccountId> {
	/// The job the task belongs to.
	pub job: JobId,
	/// The kernel that ran (its aggregation rule decides agreement).
	pub kernel: KernelId,
	/// The provider that did the work.
	pub provider: AccountId,
	/// The buyer that posted the job: never one of its verifiers (security review, finding 26).
	pub buyer: AccountId,
	/// Work in WU.
	pub work: u128,
	/// Verifiers (besides the provider) the buyer asked for (inference), or 0 (training: the
	/// verification's default).
	pub committee: u32,
	/// `true` for a training task, `false` for inference.
	pub training: bool,
	/// A training job's epochs (0 for inference): epoch commitments are taken in order and
	/// only below this.
	pub epochs: u32,
	/// A training job's inner steps per epoch (0 for inference), from its settings
	/// ([`crate::training::Hyper`]): every epoch commitment has exactly these leaves.
	pub steps: u32,
	/// Stake the provider keeps bonded for this task while it is open (a multiple of what the task
	/// pays): a wrong result, a no-show or a failed audit on it is slashed at least this much, so
	/// the penalty tracks the value at risk (security review, finding 15).
	pub collateral: u128,
}

/// Implemented by the verification pallet: start verifying a submitted task.
pub trait TaskVerifier<AccountId> {
	/// Called once per submission; an error makes the submission fail and change nothing.
	fn verify(task: TaskId, info: &TaskInfo<AccountId>, result: &Cid) -> DispatchResult;
	/// The most weight `verify` uses (added to the submitting call's weight).
	fn weight() -> Weight {
		Weight::zero()
	}
	/// The fewest blocks from a submission to its verdict: a submission later than this before
	/// its job's deadline is refused (its verdict would come after the job ended).
	fn verification_blocks() -> u32 {
		0
	}
	/// Training task `task` of the job whose tasks are `group` moved to another provider (a
	/// missed deadline, a decline or a rejected result); `info` names the new one. The verifier
	/// lets the new provider start at the job's next epoch to open (it cannot commit the epochs
	/// that opened before it came) and forgets an epoch its predecessor's audit invalidated (the
	/// predecessor was slashed for it).
	fn task_reassigned(_task: TaskId, _info: &TaskInfo<AccountId>, _group: &[TaskId]) {}
	/// The most weight `task_reassigned` uses.
	fn reassigned_weight() -> Weight {
		Weight::zero()
	}
}

/// No verifier: submitted tasks wait for an outcome that never comes, and their jobs are refunded
/// in full at their deadline.
impl<AccountId> TaskVerifier<AccountId> for () {
	fn verify(_: TaskId, _: &TaskInfo<AccountId>, _: &Cid) -> DispatchResult {
		Ok(())
	}
}

/// Implemented by the marketplace: what verification concluded.
pub trait TaskOutcome<AccountId> {
	/// The task, while it is open.
	fn task(task: TaskId) -> Option<TaskInfo<AccountId>>;
	/// The task's result `result` was accepted; `credited` are the verifiers that agreed, who
	/// share the task's verification margin.
	fn task_verified(task: TaskId, result: Cid, credited: &[AccountId]) -> DispatchResult;
	/// An audit of one of the training task's steps reached a verdict: `auditors`, the verifiers
	/// that agreed on it, re-executed part of the task's work and share its verification margin
	/// with the final committee when the task is paid (security review, finding 15: audits are
	/// paid).
	fn task_audited(_task: TaskId, _auditors: &[AccountId]) {}
	/// The task's result was not accepted: it is reassigned to another provider, or its job
	/// fails and is refunded if it cannot be.
	fn task_rejected(task: TaskId) -> DispatchResult;
	/// Verification could not decide (no quorum after every re-run, or too few verifiers): the
	/// job fails and the buyer is refunded in full.
	fn task_failed(task: TaskId) -> DispatchResult;
	/// The most weight one of the three reports above uses (a job completed and paid, a task
	/// reassigned, a job failed): the verifier charges it wherever it reports a verdict.
	fn outcome_weight() -> Weight {
		Weight::zero()
	}
}

/// A completed training job's model, kept by the marketplace: what the kernel registry links a
/// trained kernel version to (its lineage: base kernel, job, final checkpoint; the job's epochs
/// are in proof of compute's `EpochHistory`).
#[derive(Clone, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo, Debug)]
pub struct TrainedModel<AccountId> {
	/// The kernel that was trained: the base of any version registered from the model.
	pub kernel: KernelId,
	/// The buyer: the only account that may register the model as a kernel version.
	pub buyer: AccountId,
	/// The final checkpoint: the result most of the job's tasks were verified with (every
	/// member of an honest group ends with the same one).
	pub checkpoint: Cid,
	/// Epochs trained.
	pub epochs: u32,
	/// The kernel version registered from the model, once there is one.
	pub version: Option<KernelId>,
}

/// Implemented by the marketplace: completed training jobs, for the kernel registry.
pub trait TrainingRecords<AccountId> {
	/// The model a completed training job produced.
	fn trained(job: JobId) -> Option<TrainedModel<AccountId>>;
	/// Records (or, with `None`, forgets) the kernel version registered from `job`'s model.
	fn set_version(job: JobId, version: Option<KernelId>);
}

/// No training records: no kernel can be registered as a trained version.
impl<AccountId> TrainingRecords<AccountId> for () {
	fn trained(_: JobId) -> Option<TrainedModel<AccountId>> {
		None
	}
	fn set_version(_: JobId, _: Option<KernelId>) {}
}
