//! Offers, jobs, tasks, resource classes and parameters.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use polkadot_sdk::{
	frame_support::{pallet_prelude::*, traits::fungible::Inspect, BoundedVec},
	frame_system::pallet_prelude::BlockNumberFor,
	sp_runtime::Perbill,
};
use scale_info::TypeInfo;
use verity_primitives::{
	cid::Cid,
	kernel::{DeviceClass, KernelId},
	market::{JobId, TaskId},
};

use crate::Config;

/// The balance type of the escrow currency.
pub type BalanceOf<T> = <<T as Config>::Currency as Inspect<
	<T as polkadot_sdk::frame_system::Config>::AccountId,
>>::Balance;

/// A resource class id (0 CPU, 1 consumer GPU, 2 datacenter GPU at genesis; governance adds more).
pub type ClassId = u8;
/// An offer's id: a counter, never reused.
pub type OfferId = u64;

/// A CID as a call argument: binary CIDv1 or its base32 text, parsed on chain.
pub type CidInput = BoundedVec<u8, ConstU32<{ verity_primitives::cid::MAX_CID_INPUT }>>;
/// Longest resource class name.
pub type MaxNameLen = ConstU32<32>;
/// Longest libp2p peer id (binary multihash; an ed25519 identity is 38 bytes).
pub type MaxPeerIdLen = ConstU32<64>;
/// Longest listen address (binary multiaddr).
pub type MaxAddrLen = ConstU32<96>;
/// Most listen addresses one endpoint names.
pub type MaxAddrs = ConstU32<4>;

/// How other workers and buyers reach an account's worker: its libp2p peer id and listen
/// addresses, both in their binary forms. The chain checks only their bounds; readers parse them.
#[derive(
	Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo, Debug,
)]
pub struct Endpoint<Balance> {
	/// The libp2p peer id (multihash bytes).
	pub peer: BoundedVec<u8, MaxPeerIdLen>,
	/// Listen addresses (multiaddr bytes), at least one.
	pub addrs: BoundedVec<BoundedVec<u8, MaxAddrLen>, MaxAddrs>,
	/// Held from the account while the entry exists.
	pub deposit: Balance,
}

/// A resource class: the unit providers offer and jobs ask for, with its price index bounds.
#[derive(
	Clone,
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
pub struct ResourceClass<Balance> {
	/// Human-readable name, e.g. `datacenter-gpu`.
	pub name: BoundedVec<u8, MaxNameLen>,
	/// `P_base`: the index when demand equals supply, per WU.
	pub base_price: Balance,
	/// Lower clamp of the index, per WU.
	pub min_price: Balance,
	/// Upper clamp of the index, per WU.
	pub max_price: Balance,
	/// The device its providers run kernels on: a CUDA kernel is refused in a CPU class, whose
	/// providers could only miss its deadline or be slashed for it (security review, finding 9);
	/// a CPU kernel runs anywhere.
	pub device: DeviceClass,
}

/// How an offer prices its work.
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
pub enum PriceSpec<Balance> {
	/// A fixed price per WU.
	Fixed(Balance),
	/// The class's price index at the time of assignment.
	FollowIndex,
}

/// Whether an offer takes new work.
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
pub enum OfferStatus {
	/// Takes new assignments.
	Active,
	/// Keeps its open tasks but takes no new ones.
	Paused,
}

/// A provider's offer of capacity in one resource class.
#[derive(
	CloneNoBound, PartialEqNoBound, EqNoBound, Encode, Decode, MaxEncodedLen, TypeInfo, DebugNoBound,
)]
#[scale_info(skip_type_params(T))]
pub struct Offer<T: Config> {
	/// The provider.
	pub provider: T::AccountId,
	/// The resource class.
	pub class: ClassId,
	/// Sustained capacity in milli-WU per second (from `verity-worker bench-hw`).
	pub capacity: u64,
	/// Price per WU.
	pub price: PriceSpec<BalanceOf<T>>,
	/// Smallest job (in WU) it takes.
	pub min_job: u64,
	/// Largest job (in WU) it takes.
	pub max_job: u64,
	/// Active or paused.
	pub status: OfferStatus,
	/// FLOPs of its tasks that are assigned or accepted and not yet submitted.
	pub load: u128,
	/// Tasks assigned to it and not ended.
	pub open_tasks: u32,
	/// The part of its capacity (milli-WU/s) counted as its class's supply while it is active:
	/// what its provider's active stake covers as collateral over the supply horizon at its
	/// price (at least the class's base price), set when it is published, updated or resumed.
	/// Declared capacity is the provider's word; a phantom capacity moves the index no more than
	/// the stake behind it (security review, finding 6).
	pub supply: u64,
}

/// What a job asks for, as given in a call (CIDs still unparsed).
#[derive(
	CloneNoBound,
	PartialEqNoBound,
	EqNoBound,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	DebugNoBound,
)]
#[scale_info(skip_type_params(MaxInputs, MaxHyper))]
pub enum JobKindInput<MaxInputs: Get<u32>, MaxHyper: Get<u32>> {
	/// Data-parallel training by a group of providers.
	Training {
		/// The dataset.
		dataset: CidInput,
		/// The settings, as the JSON of [`verity_primitives::training::Hyper`] (empty: the
		/// defaults); anything else is refused (`InvalidHyperParams`).
		hyperparams: BoundedVec<u8, MaxHyper>,
		/// Passes over the dataset.
		epochs: u32,
		/// Providers training together; each gets one shard of the dataset.
		group_size: u32,
	},
	/// Batch inference, verified by a committee.
	Inference {
		/// The input blobs.
		inputs: BoundedVec<CidInput, MaxInputs>,
		/// Verifiers that re-run each task, besides its provider (proof of compute raises it to
		/// its minimum, 3 in the runtime).
		committee: u32,
	},
}

/// What a job asks for, with validated CIDs.
#[derive(
	CloneNoBound, PartialEqNoBound, EqNoBound, Encode, Decode, MaxEncodedLen, TypeInfo, DebugNoBound,
)]
#[scale_info(skip_type_params(MaxInputs, MaxHyper))]
pub enum JobKind<MaxInputs: Get<u32>, MaxHyper: Get<u32>> {
	/// See [`JobKindInput::Training`].
	Training {
		/// The dataset.
		dataset: Cid,
		/// Hyper-parameters.
		hyperparams: BoundedVec<u8, MaxHyper>,
		/// Passes over the dataset.
		epochs: u32,
		/// Providers training together.
		group_size: u32,
		/// Inner steps per epoch, read from `hyperparams` when the job was posted: the leaves
		/// of every epoch commitment, so a member cannot declare fewer (security review,
		/// finding 3).
		steps: u32,
	},
	/// See [`JobKindInput::Inference`].
	Inference {
		/// The input blobs.
		inputs: BoundedVec<Cid, MaxInputs>,
		/// Verifiers per task, besides its provider.
		committee: u32,
	},
}

/// Where a job is.
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
pub enum JobStatus {
	/// Waiting for allocation (can be cancelled).
	Queued,
	/// Split into tasks assigned to providers.
	Running,
}

/// A posted job. Removed from storage when it completes, fails or is cancelled.
#[derive(
	CloneNoBound, PartialEqNoBound, EqNoBound, Encode, Decode, MaxEncodedLen, TypeInfo, DebugNoBound,
)]
#[scale_info(skip_type_params(T))]
pub struct Job<T: Config> {
	/// Who pays.
	pub buyer: T::AccountId,
	/// The kernel to run.
	pub kernel: KernelId,
	/// The resource class to run on.
	pub class: ClassId,
	/// Training or inference.
	pub kind: JobKind<T::MaxInputs, T::MaxHyperParams>,
	/// Samples: the dataset size (training) or the number of inputs (inference).
	pub samples: u64,
	/// Total FLOPs of the job (declared cost × samples × epochs).
	pub flops: u128,
	/// Highest price per WU the buyer pays.
	pub max_price: BalanceOf<T>,
	/// Last block by which the job must be verified, else it fails and is refunded.
	pub deadline: BlockNumberFor<T>,
	/// Escrow held from the buyer: work × max price plus the verification margin.
	pub budget: BalanceOf<T>,
	/// Queued or running.
	pub status: JobStatus,
	/// Its tasks once allocated.
	pub tasks: BoundedVec<TaskId, T::MaxTasksPerJob>,
	/// Providers that missed a deadline on this job: never assigned to it again.
	pub excluded: BoundedVec<T::AccountId, T::MaxTasksPerJob>,
	/// Whether its work counts in its class's demand: from the first allocation attempt that
	/// found an offer able to take it at its price and size, until it ends. A job no offer would
	/// take at its price is no demand at that price (security review, finding 6).
	pub in_demand: bool,
}

/// Where a task is.
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
pub enum TaskState {
	/// Assigned; the provider must accept by `due`.
	Assigned,
	/// Accepted; the provider must send a heartbeat or its result by `due`.
	Accepted,
	/// Result submitted, with verification.
	Submitted,
	/// Result accepted by verification.
	Verified,
}

/// One provider's share of a job.
#[derive(
	CloneNoBound, PartialEqNoBound, EqNoBound, Encode, Decode, MaxEncodedLen, TypeInfo, DebugNoBound,
)]
#[scale_info(skip_type_params(T))]
pub struct TaskEntry<T: Config> {
	/// The job.
	pub job: JobId,
	/// The provider doing it.
	pub provider: T::AccountId,
	/// The offer it came through.
	pub offer: OfferId,
	/// First sample of its share (inference: input index; training: shard start).
	pub first_sample: u64,
	/// Samples in its share.
	pub samples: u64,
	/// FLOPs of its share.
	pub flops: u128,
	/// Price per WU agreed at assignment.
	pub price: BalanceOf<T>,
	/// Its state.
	pub state: TaskState,
	/// When it was (last) assigned.
	pub assigned_at: BlockNumberFor<T>,
	/// The block by which the next step (accept, heartbeat or result) is due.
	pub due: BlockNumberFor<T>,
	/// Times it was reassigned after a missed deadline or a rejected result.
	pub reassignments: u32,
	/// The submitted result.
	pub result: Option<Cid>,
	/// Verifiers that share its verification margin when it is paid: the auditors of its steps
	/// (training), credited as each audit ends, and the committee that accepted its result, put
	/// first; each once, at most `MaxCommittee` (finding 15).
	pub credited: BoundedVec<T::AccountId, T::MaxCommittee>,
	/// Stake its provider keeps bonded for it until it is verified or leaves the provider
	/// (`collateral_percent` of its value at its price); a conviction on it slashes at least this.
	pub collateral: BalanceOf<T>,
}

/// Entries in the per-block deadline index.
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
pub enum Deadline {
	/// A task's `due`; ignored if the task moved on since.
	Task(TaskId),
	/// A job's deadline.
	Job(JobId),
}

/// Running totals of one resource class, for the price index.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Default,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Debug,
)]
pub struct ClassStats {
	/// FLOPs of open jobs that an offer could take at their price and size (`Job::in_demand`):
	/// demand.
	pub demand: u128,
	/// Sum of active offers' capacity counted as supply (`Offer::supply`: what their stake
	/// backs), milli-WU per second.
	pub capacity: u128,
	/// FLOPs assigned to offers and not yet submitted.
	pub load: u128,
}

/// Governable market parameters.
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
pub struct MarketParams<Balance, BlockNumber> {
	/// Blocks an assigned provider has to accept.
	pub accept_window: BlockNumber,
	/// Blocks between heartbeats once accepted.
	pub heartbeat_interval: BlockNumber,
	/// Stake slashed from a provider that misses an accept or heartbeat deadline.
	pub missed_deadline_penalty: Balance,
	/// Share of each provider payment that goes to the protocol (may be zero).
	pub protocol_fee: Perbill,
	/// Escrow on top of work × max price, paid to the verifiers that agree.
	pub verification_margin: Perbill,
	/// EMA weight of the newest index target per block (100 % = no smoothing).
	pub index_smoothing: Perbill,
	/// Seconds of offered capacity that count as supply.
	pub supply_horizon_secs: u64,
	/// Load tolerance τ in seconds of queued work: an offer more than τ above the class average
	/// gets no new assignments.
	pub load_tolerance_secs: u64,
	/// Times one task may be reassigned before its job fails.
	pub max_reassignments: u32,
	/// Collateral per task in percent of its value (its work at its price): an offer is given no
	/// more work than its provider's free active stake covers, and a wrong result, no-show or
	/// failed audit on the task is slashed at least that much (security review, finding 15).
	pub collateral_percent: u32,
}

/// The parameters of a runtime.
pub type ParamsOf<T> = MarketParams<BalanceOf<T>, BlockNumberFor<T>>;
/// A job kind as given in a call.
pub type JobKindInputOf<T> = JobKindInput<<T as Config>::MaxInputs, <T as Config>::MaxHyperParams>;

/// What the benchmarks need from the runtime: a provider with stake and a kernel to post jobs for.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper<AccountId> {
	/// Gives `who` balance and the minimum provider stake.
	fn make_provider(who: &AccountId);
	/// Registers a usable kernel with training and inference costs, owned by `owner`.
	fn make_kernel(owner: &AccountId) -> KernelId;
	/// Readies training task `task` for its result: in the runtime, proof of compute learns that
	/// its `epochs` epochs were committed and audited (its `verify` refuses a training result
	/// before that, security review finding 3) and has verifiers enough for its committee.
	/// Nothing by default.
	fn ready_to_verify(task: TaskId, epochs: u32) {
		let _ = (task, epochs);
	}
}
