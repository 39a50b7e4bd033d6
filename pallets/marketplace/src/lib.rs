//! # Marketplace: the Resource Abstraction Layer, offers, jobs, escrow, a price index, allocation
//! at minimum cost, liveness, and payment for verified work
//!
//! ## Resource Abstraction Layer
//!
//! One **work unit (WU)** is 10^12 floating-point operations of a kernel's declared cost (see
//! `pallet-aivm-registry`), so a job's work is known before it runs: training costs
//! `train_flops × samples × epochs`, inference `inference_flops × samples`. Work is priced in VER
//! per WU; a task of `f` FLOPs at price `p` costs `p × f / 10^12` (rounded down). Capacity is
//! offered per **resource class** ([`ResourceClass`]: CPU, consumer GPU, datacenter GPU at
//! genesis; [`Config::AdminOrigin`] — a governance vote — adds or changes classes) in milli-WU
//! per second, as `verity-worker bench-hw` measures it.
//!
//! ## Offers
//!
//! A provider with at least the minimum provider stake ([`Config::Staking`]) publishes one offer
//! per class: capacity, price (fixed per WU, or "follow the index"), and the job sizes it takes.
//! It can update it (capacity only upwards while it has open tasks), pause and resume it, and
//! withdraw it once no task is open on it.
//!
//! ## Jobs and escrow
//!
//! A buyer posts a job: a usable kernel, a class, training (dataset CID, hyper-parameters,
//! epochs, group size) or inference (input CIDs, committee size), the number of samples, a max
//! price per WU and a deadline. The budget — work × max price plus the governable verification
//! margin — is held from the buyer (`fungible` hold, reason `JobEscrow`). A job can be cancelled
//! with a full refund until it is allocated.
//!
//! ## Price index
//!
//! Every block, for each class, the target `P_base × demand / supply` — demand the WU of open
//! jobs an offer could take at their price and size, supply the WU active offers can do over
//! `supply_horizon_secs` (as far as their providers' stake backs it, [`Offer::supply`]) minus
//! what they already carry — is clamped to the class's `[min_price, max_price]` and the index moves towards it by
//! `index_smoothing` (an exponential moving average). Read it from storage (`PriceIndex`) or the
//! `price_index` view function.
//!
//! ## Allocation
//!
//! Posted jobs queue; each block allocates at most `MaxAllocationsPerBlock` of them (a job that
//! does not fit yet stays queued until its deadline). Candidates are the active offers of the
//! job's class whose price is at most the job's max price, whose provider still has provider
//! stake and is not excluded from the job, whose size limits admit the job, and whose load is
//! not more than τ (`load_tolerance_secs`) above the class average; each can take what its
//! capacity does before the deadline minus what it already carries. Inference jobs are split
//! cheapest first, training jobs go to the `group_size` cheapest offers — both exact optima, see
//! [`allocation`]. Price ties are broken by BABE randomness. One offer per provider per class,
//! so no provider appears twice in one job.
//!
//! ## Liveness
//!
//! An assigned provider must [`accept_task`](Pallet::accept_task) within `accept_window` blocks,
//! then send a [`heartbeat`](Pallet::heartbeat) or [`submit_result`](Pallet::submit_result) at
//! least every `heartbeat_interval` blocks. A missed step slashes `missed_deadline_penalty` of its
//! stake (reason `MissedDeadline`), excludes it from the job, and reassigns the task to the next
//! cheapest candidate; after `max_reassignments`, or with no candidate left, the job fails: its
//! verified tasks are paid (see Completion) and the rest is refunded.
//!
//! ## Completion
//!
//! A submitted result goes to [`Config::Verifier`] (the proof-of-compute pallet), which reports
//! back through [`TaskOutcome`]: a rejected task is reassigned; once every task of a job is
//! verified, each provider is paid its work at its agreed price less the protocol fee, the fee
//! goes to [`Config::FeeDestination`], the verifiers credited for each task share its
//! verification margin, and the rest is refunded. A job that fails (deadline, no provider, not
//! verified) pays its verified tasks the same way (`VerifiedTasksPaid`) and refunds the rest. A
//! result is refused (`TooLateToVerify`) when verification
//! ([`TaskVerifier::verification_blocks`](verity_primitives::market::TaskVerifier)) could not
//! end before the job's deadline. A completed training job's model — the final checkpoint most
//! of its tasks were verified with — stays in [`TrainedModels`] after the job (event
//! `ModelTrained`), read by the kernel registry through
//! [`TrainingRecords`](verity_primitives::market::TrainingRecords) when the buyer registers it
//! as the kernel's next version.
//!
//! ## Defences (security review of the pallets, findings 3, 5, 6, 7, 8, 9, 10, 14, 15, 26, 27)
//!
//! - **Deadline index** (5): every task and job holds at most one entry in [`Deadlines`]; an
//!   entry superseded by an accept, heartbeat, submission or the job's end is removed at once
//!   (`post_job` + `cancel_job` leaves nothing behind), an entry the hook postpones carries the
//!   task's due or the job's deadline with it, an entry with nothing left to do costs one read,
//!   and entries handled when no later block has room are weighed.
//! - **Verified work is paid** (7): a job's end by deadline or failure never refunds work the
//!   committee verified, so a buyer cannot get results free by starving one task.
//! - **No slot kept by stake that left** (8): anyone can [`prune_offer`](Pallet::prune_offer) an
//!   idle offer whose provider no longer has the provider stake; the class slot and its supply
//!   go with it.
//! - **A task can be declined** (9, in part): an assigned provider may
//!   [`decline_task`](Pallet::decline_task) before accepting, without penalty (the task moves
//!   on), instead of being forced to accept work it cannot do or take the missed-accept slash.
//!   Each class names the device its providers run on ([`ResourceClass::device`]): a CUDA
//!   kernel posted to a CPU class is refused (`DeviceMismatch`); a CPU kernel runs in any class.
//!   A job is paid in the whole WU its budget escrows, shared among its tasks by their work
//!   ([`Pallet::billed_flops`]), so a kernel declaring a few FLOPs per sample still pays one WU's
//!   price rather than nothing. (Declared FLOPs are still unchecked.)
//! - **One unload per task** (10): a missed task's offer is unloaded when the task moves
//!   (reassigned) or its job ends, once.
//! - **No queue squatting** (6, in part): a job's max price must reach its class's `min_price`
//!   (`PriceBelowFloor`), so jobs no offer can take are not queued; one buyer has at most
//!   `MaxQueuedPerBuyer` jobs waiting. A job counts as demand only once an offer could take it
//!   at its price and size ([`Job::in_demand`]), so jobs priced below every offer do not pump
//!   the index; an offer's capacity counts as supply only as far as its provider's active stake
//!   backs it as collateral over the supply horizon ([`Offer::supply`]), so a phantom capacity
//!   at a price no job pays does not sink it. (A capacity that is backed but never delivered
//!   still counts until its offer is given work and misses it.)
//! - **No job dropped by allocation** (14): an inference job is split into at most
//!   `MaxTasksPerJob` tasks (over the largest offers when the cheapest would need more); a job
//!   allocation fails for is kept in the queue, never lost while `Queued`.
//! - **Audits are paid** (15, with proof of compute): the verifiers that agree on an audit of a
//!   training task's step are credited on the task as the audit ends and share its
//!   verification margin with the committee that accepts its result (the committee first, each
//!   verifier once, at most `MaxCommittee`).
//! - **Collateral tracks the value at risk** (15, with proof of compute): each task keeps
//!   `collateral_percent` (200 % in the runtime) of its value (its work at its price) of its
//!   provider's active stake bonded in [`Collateral`] until it is verified, moves or its job
//!   ends; an offer is given no more work than its provider's free stake covers, and proof of
//!   compute slashes a wrong, silent or audit-failed provider at least the task's collateral
//!   (`TaskInfo::collateral`), so a minimum-stake provider cannot take a task worth more than
//!   its stake and cheat on it for a 10 % penalty. (Stake that starts unbonding after an
//!   assignment stays slashable through the unbonding period, finding 19.)
//! - **A training job's steps are the job's** (3, with proof of compute): a training job's
//!   `hyperparams` must be the JSON of [`verity_primitives::training::Hyper`], the one parser
//!   the workers use too (`InvalidHyperParams`), and the job keeps its inner steps per epoch
//!   (`JobKind::Training::steps`), which every task hands to verification
//!   (`TaskInfo::steps`): an epoch commitment of any other step count is refused, so a member
//!   cannot shrink its tree to the steps it did compute.
//! - **No self-dealing** (26): a buyer's own offers are never candidates for its job (and
//!   proof-of-compute keeps the buyer out of the job's committees).
//! - **The deadline index is checked** (27): `try_state` requires each job, and each task
//!   awaiting its provider, to hold exactly one [`Deadlines`] entry, at its deadline or due, and
//!   no entry to name anything else.
//!
//! ## Example
//!
//! From `tests::job_goes_to_the_cheaper_offer_first`:
//!
//! ```ignore
//! let _carol = offer(CAROL, CPU, 1_000, 30); // 1 WU/s at 30 per WU
//! let dave = offer(DAVE, CPU, 1_000, 20);
//! assert_ok!(Market::post_job(signed(ALICE), k, CPU, inference(1, 1), 1_000, 50, 100));
//! run_to_block(2); // the hook allocates
//! let t = task(0);
//! assert_eq!((t.provider, t.offer, t.samples, t.price), (DAVE, dave, 1_000, 20));
//! ```

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

pub mod allocation;
#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
mod impls;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod types;
pub mod weights;

pub use types::*;
pub use verity_primitives::market::{JobId, TaskId, TaskOutcome};
pub use weights::WeightInfo;

#[polkadot_sdk::frame_support::pallet]
pub mod pallet {
	use super::*;
	use alloc::vec::Vec;
	use polkadot_sdk::{
		frame_support::{
			pallet_prelude::*,
			traits::{
				fungible::{InspectHold, Mutate, MutateHold},
				Randomness,
			},
		},
		frame_system::pallet_prelude::*,
	};
	use verity_primitives::{
		kernel::{KernelId, KernelInspect},
		market::TaskVerifier,
		staking::ProviderStake,
	};

	const STORAGE_VERSION: StorageVersion = StorageVersion::new(0);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	/// Why the pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// A job's budget, until it completes, fails or is cancelled.
		#[codec(index = 0)]
		JobEscrow,
		/// The deposit behind an account's published endpoint.
		#[codec(index = 1)]
		Endpoint,
	}

	#[pallet::config]
	pub trait Config: polkadot_sdk::frame_system::Config<RuntimeEvent: From<Event<Self>>> {
		/// The currency jobs are paid in.
		type Currency: MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
			+ InspectHold<Self::AccountId>
			+ Mutate<Self::AccountId>;

		/// The overarching hold reason.
		type RuntimeHoldReason: From<HoldReason>;

		/// Kernels: declared costs, usability, references.
		type Kernels: KernelInspect<Self::AccountId>;

		/// Provider stake: who may offer, and whom to penalise.
		type Staking: ProviderStake<Self::AccountId, BalanceOf<Self>>;

		/// Verification of submitted results (the proof-of-compute pallet).
		type Verifier: TaskVerifier<Self::AccountId>;

		/// Randomness for tie-breaking (BABE's in the runtime).
		type Randomness: Randomness<Self::Hash, BlockNumberFor<Self>>;

		/// Where protocol fees go.
		type FeeDestination: Get<Self::AccountId>;

		/// Who sets resource classes and parameters (Root: a passed proposal).
		type AdminOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// Block time, to turn capacity per second into work before a deadline.
		#[pallet::constant]
		type MillisecsPerBlock: Get<u64>;

		/// Most resource classes: bounds the per-block index update.
		#[pallet::constant]
		type MaxClasses: Get<u32>;

		/// Most offers per class: bounds what one allocation sorts.
		#[pallet::constant]
		type MaxOffersPerClass: Get<u32>;

		/// Most tasks per job (the largest training group): bounds completion and failure.
		#[pallet::constant]
		type MaxTasksPerJob: Get<u32>;

		/// Most input CIDs of an inference job.
		#[pallet::constant]
		type MaxInputs: Get<u32>;

		/// Largest hyper-parameter blob of a training job.
		#[pallet::constant]
		type MaxHyperParams: Get<u32>;

		/// Largest verification committee (bounds the verifiers credited per task).
		#[pallet::constant]
		type MaxCommittee: Get<u32>;

		/// Most jobs waiting for allocation.
		#[pallet::constant]
		type MaxQueued: Get<u32>;

		/// Most jobs one buyer may have waiting for allocation, so one account cannot fill the
		/// queue (security review, finding 6).
		#[pallet::constant]
		type MaxQueuedPerBuyer: Get<u32>;

		/// Most allocation attempts per block: bounds the hook's work.
		#[pallet::constant]
		type MaxAllocationsPerBlock: Get<u32>;

		/// Most deadlines indexed per block: bounds the hook's work.
		#[pallet::constant]
		type MaxDeadlinesPerBlock: Get<u32>;

		/// Most weight the hook spends on deadlines in one block (at least one deadline is always
		/// handled); the rest move to the next block. Keeps a burst of missed deadlines from
		/// filling blocks.
		#[pallet::constant]
		type MaxDeadlineWeight: Get<Weight>;

		/// Longest time from posting to deadline, in blocks.
		#[pallet::constant]
		type MaxJobDuration: Get<BlockNumberFor<Self>>;

		/// Largest job, in WU.
		#[pallet::constant]
		type MaxJobWork: Get<u64>;

		/// Held from an account while it publishes an endpoint (pays for the storage).
		#[pallet::constant]
		type EndpointDeposit: Get<BalanceOf<Self>>;

		/// Weights from this pallet's benchmarks.
		type WeightInfo: WeightInfo;

		/// Sets up providers and kernels in benchmarks.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: BenchmarkHelper<Self::AccountId>;
	}

	/// Resource classes by id.
	// Hasher: a small id set by governance.
	#[pallet::storage]
	pub type ResourceClasses<T: Config> =
		StorageMap<_, Twox64Concat, ClassId, ResourceClass<BalanceOf<T>>>;

	/// Ids of all classes (bounds the per-block index update).
	#[pallet::storage]
	pub type ClassIds<T: Config> = StorageValue<_, BoundedVec<ClassId, T::MaxClasses>, ValueQuery>;

	/// The price index per class, VER per WU.
	// Hasher: a small id set by governance.
	#[pallet::storage]
	pub type PriceIndex<T: Config> = StorageMap<_, Twox64Concat, ClassId, BalanceOf<T>, ValueQuery>;

	/// Demand, supply and load per class.
	// Hasher: a small id set by governance.
	#[pallet::storage]
	pub type Stats<T: Config> = StorageMap<_, Twox64Concat, ClassId, ClassStats, ValueQuery>;

	/// Offers by id.
	// Hasher: sequential id.
	#[pallet::storage]
	pub type Offers<T: Config> = StorageMap<_, Twox64Concat, OfferId, Offer<T>>;

	/// Offer ids per class.
	// Hasher: a small id set by governance.
	#[pallet::storage]
	pub type ClassOffers<T: Config> =
		StorageMap<_, Twox64Concat, ClassId, BoundedVec<OfferId, T::MaxOffersPerClass>, ValueQuery>;

	/// A provider's offer in a class.
	// Hasher: accounts are chosen by users.
	#[pallet::storage]
	pub type ProviderOffers<T: Config> =
		StorageDoubleMap<_, Blake2_128Concat, T::AccountId, Twox64Concat, ClassId, OfferId>;

	/// The next offer id.
	#[pallet::storage]
	pub type NextOffer<T: Config> = StorageValue<_, OfferId, ValueQuery>;

	/// Open jobs by id.
	// Hasher: sequential id.
	#[pallet::storage]
	pub type Jobs<T: Config> = StorageMap<_, Twox64Concat, JobId, Job<T>>;

	/// The next job id.
	#[pallet::storage]
	pub type NextJob<T: Config> = StorageValue<_, JobId, ValueQuery>;

	/// Open tasks by id.
	// Hasher: sequential id.
	#[pallet::storage]
	pub type Tasks<T: Config> = StorageMap<_, Twox64Concat, TaskId, TaskEntry<T>>;

	/// The next task id.
	#[pallet::storage]
	pub type NextTask<T: Config> = StorageValue<_, TaskId, ValueQuery>;

	/// Jobs waiting for allocation, oldest first.
	#[pallet::storage]
	pub type Queue<T: Config> = StorageValue<_, BoundedVec<JobId, T::MaxQueued>, ValueQuery>;

	/// Jobs each buyer has waiting in the queue.
	// Hasher: accounts are chosen by users.
	#[pallet::storage]
	pub type QueuedBy<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, u32, ValueQuery>;

	/// Stake each provider keeps bonded for its tasks that are open (not yet verified): the sum
	/// of their `collateral`. New work goes only where active stake minus this covers it.
	// Hasher: accounts are chosen by users.
	#[pallet::storage]
	pub type Collateral<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, BalanceOf<T>, ValueQuery>;

	/// Deadlines falling in each block.
	// Hasher: block numbers are not chosen freely.
	#[pallet::storage]
	pub type Deadlines<T: Config> = StorageMap<
		_,
		Twox64Concat,
		BlockNumberFor<T>,
		BoundedVec<Deadline, T::MaxDeadlinesPerBlock>,
		ValueQuery,
	>;

	/// Governable parameters.
	#[pallet::storage]
	pub type Params<T: Config> = StorageValue<_, ParamsOf<T>, OptionQuery>;

	/// How each account's worker is reached over libp2p (providers, verifiers, buyers serving
	/// inputs): the directory workers find blobs and peers through.
	// Hasher: accounts are chosen by users.
	#[pallet::storage]
	pub type Endpoints<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, Endpoint<BalanceOf<T>>>;

	/// Completed training jobs' models (the final checkpoint, and the kernel version registered
	/// from it): the lineage the kernel registry links trained versions to. Kept after the job.
	// Hasher: sequential ids.
	#[pallet::storage]
	pub type TrainedModels<T: Config> =
		StorageMap<_, Twox64Concat, JobId, verity_primitives::market::TrainedModel<T::AccountId>>;

	#[pallet::genesis_config]
	#[derive(polkadot_sdk::frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// The first resource classes.
		pub classes: Vec<(ClassId, ResourceClass<BalanceOf<T>>)>,
		/// The first parameters.
		pub params: Option<ParamsOf<T>>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			if let Some(params) = self.params {
				assert!(Pallet::<T>::params_are_valid(&params), "invalid genesis market params");
				Params::<T>::put(params);
			}
			for (id, class) in &self.classes {
				assert!(
					Pallet::<T>::do_set_class(*id, class.clone()).is_ok(),
					"invalid genesis resource class"
				);
			}
		}
	}

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A resource class was added or changed.
		ResourceClassSet {
			/// Its id.
			class: ClassId,
			/// Its definition.
			definition: ResourceClass<BalanceOf<T>>,
		},
		/// The market parameters changed.
		ParamsSet {
			/// The new parameters.
			params: ParamsOf<T>,
		},
		/// A provider published an offer.
		OfferPublished {
			/// Its id.
			offer: OfferId,
			/// The provider.
			provider: T::AccountId,
			/// The class.
			class: ClassId,
			/// Capacity, milli-WU per second.
			capacity: u64,
			/// Price.
			price: PriceSpec<BalanceOf<T>>,
		},
		/// An offer's terms changed.
		OfferUpdated {
			/// The offer.
			offer: OfferId,
			/// Capacity, milli-WU per second.
			capacity: u64,
			/// Price.
			price: PriceSpec<BalanceOf<T>>,
		},
		/// An offer was paused or resumed.
		OfferStatusChanged {
			/// The offer.
			offer: OfferId,
			/// Its new status.
			status: OfferStatus,
		},
		/// An offer was withdrawn.
		OfferWithdrawn {
			/// The offer.
			offer: OfferId,
		},
		/// A job was posted and its budget held.
		JobPosted {
			/// Its id.
			job: JobId,
			/// Who pays.
			buyer: T::AccountId,
			/// The kernel.
			kernel: KernelId,
			/// The class.
			class: ClassId,
			/// Work, WU (rounded up).
			work: u64,
			/// The escrow held.
			budget: BalanceOf<T>,
			/// The deadline.
			deadline: BlockNumberFor<T>,
		},
		/// A queued job was cancelled and refunded.
		JobCancelled {
			/// The job.
			job: JobId,
			/// The refund.
			refund: BalanceOf<T>,
		},
		/// A task was assigned to a provider (at allocation or on reassignment).
		TaskAssigned {
			/// The task.
			task: TaskId,
			/// Its job.
			job: JobId,
			/// The provider.
			provider: T::AccountId,
			/// The offer.
			offer: OfferId,
			/// First sample of its share.
			first_sample: u64,
			/// Samples in its share.
			samples: u64,
			/// Price per WU agreed.
			price: BalanceOf<T>,
			/// The block by which it must be accepted.
			accept_by: BlockNumberFor<T>,
		},
		/// A provider accepted a task.
		TaskAccepted {
			/// The task.
			task: TaskId,
			/// Next heartbeat or result due by.
			due: BlockNumberFor<T>,
		},
		/// A provider reported progress.
		Heartbeat {
			/// The task.
			task: TaskId,
			/// Next heartbeat or result due by.
			due: BlockNumberFor<T>,
		},
		/// A provider submitted a result, now being verified.
		ResultSubmitted {
			/// The task.
			task: TaskId,
			/// The provider.
			provider: T::AccountId,
			/// The result.
			result: verity_primitives::cid::Cid,
		},
		/// A provider missed an accept or heartbeat deadline and was penalised.
		DeadlineMissed {
			/// The task.
			task: TaskId,
			/// The provider.
			provider: T::AccountId,
			/// Stake slashed.
			penalty: BalanceOf<T>,
		},
		/// Verification accepted a task's result.
		TaskVerified {
			/// The task.
			task: TaskId,
			/// The accepted result.
			result: verity_primitives::cid::Cid,
		},
		/// A provider declined a task assigned to it (no penalty); it goes to the next candidate.
		TaskDeclined {
			/// The task.
			task: TaskId,
			/// The provider that declined.
			provider: T::AccountId,
		},
		/// Verification rejected a task's result.
		TaskRejected {
			/// The task.
			task: TaskId,
			/// The provider whose result it was.
			provider: T::AccountId,
		},
		/// Every task of a job was verified; providers and verifiers were paid.
		JobCompleted {
			/// The job.
			job: JobId,
			/// Paid to providers (after the fee).
			paid: BalanceOf<T>,
			/// Protocol fee.
			fee: BalanceOf<T>,
			/// Paid to verifiers.
			verifiers: BalanceOf<T>,
			/// Refunded to the buyer.
			refund: BalanceOf<T>,
		},
		/// A training job completed (after its `JobCompleted`): its model is kept in
		/// `TrainedModels`, and the buyer may register it as the kernel's next version.
		ModelTrained {
			/// The job.
			job: JobId,
			/// The kernel trained.
			kernel: KernelId,
			/// The final checkpoint.
			checkpoint: verity_primitives::cid::Cid,
		},
		/// A job could not be placed or verified in time; what its verified tasks were not paid
		/// (`VerifiedTasksPaid`) was refunded to the buyer.
		JobFailed {
			/// The job.
			job: JobId,
			/// The refund.
			refund: BalanceOf<T>,
			/// Why.
			reason: FailReason,
		},
		/// A job that is failing paid its verified tasks first (the rest is refunded by the
		/// `JobFailed` that follows).
		VerifiedTasksPaid {
			/// The job.
			job: JobId,
			/// Paid to providers (after the fee).
			paid: BalanceOf<T>,
			/// Protocol fee.
			fee: BalanceOf<T>,
			/// Paid to verifiers.
			verifiers: BalanceOf<T>,
		},
		/// An account published or changed how its worker is reached.
		EndpointSet {
			/// The account.
			who: T::AccountId,
			/// Its libp2p peer id.
			peer: BoundedVec<u8, MaxPeerIdLen>,
		},
		/// An account removed its endpoint; its deposit was released.
		EndpointCleared {
			/// The account.
			who: T::AccountId,
		},
	}

	#[pallet::error]
	pub enum Error<T> {
		/// No resource class with this id.
		UnknownClass,
		/// All `MaxClasses` class ids are taken.
		TooManyClasses,
		/// A class needs `min_price ≤ base_price ≤ max_price`, a non-zero base price and a name.
		InvalidClass,
		/// Parameters out of range: windows must be at least one block, the horizon non-zero.
		InvalidParams,
		/// The market has no parameters yet (set them first).
		NoParams,
		/// Capacity must be non-zero and `min_job ≤ max_job`, `max_job` non-zero.
		InvalidOffer,
		/// A fixed price must be non-zero.
		ZeroPrice,
		/// The provider already has an offer in this class: update it instead.
		OfferExists,
		/// The class already has `MaxOffersPerClass` offers.
		TooManyOffers,
		/// No offer with this id.
		UnknownOffer,
		/// The provider still has its provider stake: only its own call withdraws the offer.
		StillStaked,
		/// Only the offer's provider may do this.
		NotProvider,
		/// The offer has open tasks: capacity can only grow, and it cannot be withdrawn yet.
		OfferBusy,
		/// The offer is already in that status.
		SameStatus,
		/// No kernel with this id.
		UnknownKernel,
		/// The kernel is deprecated and takes no new jobs.
		KernelDeprecated,
		/// The kernel declares no training cost: it is inference-only.
		NotTrainable,
		/// A CID in the job is malformed (CIDv1, sha2-256, raw or dag-pb).
		InvalidCid,
		/// Zero samples, epochs, group or committee, inputs missing, or fewer samples than group
		/// members.
		ZeroJob,
		/// The job's work exceeds `MaxJobWork`, its group `MaxTasksPerJob` or its committee
		/// `MaxCommittee`.
		JobTooLarge,
		/// The max price must be non-zero.
		ZeroMaxPrice,
		/// The deadline must be after the accept window and within `MaxJobDuration`.
		InvalidDeadline,
		/// The buyer's free balance cannot cover the budget.
		InsufficientBalance,
		/// `MaxQueued` jobs are already waiting, or `MaxQueuedPerBuyer` of this buyer's.
		QueueFull,
		/// The max price is below the class's `min_price`: no offer could be paid from it (the
		/// index never goes lower).
		PriceBelowFloor,
		/// Too many deadlines fall in the blocks around this one; try a different deadline.
		DeadlinesFull,
		/// No job with this id.
		UnknownJob,
		/// Only the job's buyer may do this.
		NotBuyer,
		/// The job is already allocated: it can no longer be cancelled.
		JobRunning,
		/// No task with this id.
		UnknownTask,
		/// Only the task's provider may do this.
		NotAssigned,
		/// The task is not in the state this call needs.
		WrongTaskState,
		/// An endpoint needs a non-empty peer id and at least one non-empty address.
		InvalidEndpoint,
		/// The account has no endpoint.
		NoEndpoint,
		/// Verification of a result submitted now would not end before the job's deadline.
		TooLateToVerify,
		/// The kernel runs on CUDA and the class's providers on CPUs (security review, finding 9).
		DeviceMismatch,
		/// A training job's `hyperparams` are not the JSON of
		/// [`verity_primitives::training::Hyper`] with every value in range.
		InvalidHyperParams,
	}

	/// Why a job failed.
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
	pub enum FailReason {
		/// Its deadline passed before every task was verified.
		DeadlinePassed,
		/// A task could not be reassigned (no candidate, or `max_reassignments` reached).
		NoProvider,
		/// Verification could not decide on a task's result.
		NotVerified,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			Self::do_on_initialize(now)
		}

		fn integrity_test() {
			assert!(T::MaxClasses::get() >= 1, "need at least one class");
			assert!(T::MaxTasksPerJob::get() >= 1, "a job needs at least one task");
			assert!(T::MaxCommittee::get() >= 1, "a committee needs a member");
			assert!(T::MillisecsPerBlock::get() > 0, "blocks take time");
			assert!(T::MaxAllocationsPerBlock::get() >= 1, "the queue must move");
			assert!(T::MaxQueuedPerBuyer::get() >= 1, "a buyer must be able to post");
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(
			_n: BlockNumberFor<T>,
		) -> Result<(), polkadot_sdk::sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Publishes an offer of `capacity` milli-WU/s in `class` at `price`, for jobs of
		/// `min_job` to `max_job` WU.
		///
		/// - Origin: signed by a provider with at least the minimum provider stake.
		/// - Errors: the staking pallet's `InsufficientStake`/`NotBonded`, `UnknownClass`,
		///   `InvalidOffer`, `ZeroPrice`, `OfferExists`, `TooManyOffers`.
		/// - Events: `OfferPublished`.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::publish_offer())]
		pub fn publish_offer(
			origin: OriginFor<T>,
			class: ClassId,
			capacity: u64,
			price: PriceSpec<BalanceOf<T>>,
			min_job: u64,
			max_job: u64,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_publish_offer(who, class, capacity, price, min_job, max_job).map(|_| ())
		}

		/// Changes an offer's terms. While it has open tasks, capacity may only grow.
		///
		/// - Origin: signed by the offer's provider.
		/// - Errors: `UnknownOffer`, `NotProvider`, `InvalidOffer`, `ZeroPrice`, `OfferBusy`.
		/// - Events: `OfferUpdated`.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::update_offer())]
		pub fn update_offer(
			origin: OriginFor<T>,
			offer: OfferId,
			capacity: u64,
			price: PriceSpec<BalanceOf<T>>,
			min_job: u64,
			max_job: u64,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_update_offer(who, offer, capacity, price, min_job, max_job)
		}

		/// Pauses (no new assignments) or resumes an offer.
		///
		/// - Origin: signed by the offer's provider.
		/// - Errors: `UnknownOffer`, `NotProvider`, `SameStatus`.
		/// - Events: `OfferStatusChanged`.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::set_offer_status())]
		pub fn set_offer_status(
			origin: OriginFor<T>,
			offer: OfferId,
			status: OfferStatus,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_set_offer_status(who, offer, status)
		}

		/// Withdraws an offer with no open task.
		///
		/// - Origin: signed by the offer's provider.
		/// - Errors: `UnknownOffer`, `NotProvider`, `OfferBusy`.
		/// - Events: `OfferWithdrawn`.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::withdraw_offer())]
		pub fn withdraw_offer(origin: OriginFor<T>, offer: OfferId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_withdraw_offer(who, offer)
		}

		/// Posts a job and holds its budget; it is allocated from the next block on.
		///
		/// - Origin: signed; the signer pays.
		/// - Details: work = declared cost × `samples` (× epochs for training); budget = work ×
		///   `max_price` + verification margin.
		/// - Errors: `UnknownClass`, `UnknownKernel`, `KernelDeprecated`, `NotTrainable`,
		///   `InvalidCid`, `InvalidHyperParams`, `ZeroJob`, `JobTooLarge`, `ZeroMaxPrice`,
		///   `InvalidDeadline`, `InsufficientBalance`, `QueueFull`, `DeadlinesFull`, `NoParams`.
		/// - Events: `JobPosted`.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::post_job(T::MaxInputs::get()))]
		pub fn post_job(
			origin: OriginFor<T>,
			kernel: KernelId,
			class: ClassId,
			kind: JobKindInputOf<T>,
			samples: u64,
			max_price: BalanceOf<T>,
			deadline: BlockNumberFor<T>,
		) -> DispatchResult {
			let buyer = ensure_signed(origin)?;
			Self::do_post_job(buyer, kernel, class, kind, samples, max_price, deadline).map(|_| ())
		}

		/// Cancels a job that is not yet allocated and refunds its budget.
		///
		/// - Origin: signed by the buyer.
		/// - Errors: `UnknownJob`, `NotBuyer`, `JobRunning`.
		/// - Events: `JobCancelled`.
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::cancel_job())]
		pub fn cancel_job(origin: OriginFor<T>, job: JobId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_cancel_job(who, job)
		}

		/// Accepts an assigned task.
		///
		/// - Origin: signed by the assigned provider, within the accept window.
		/// - Errors: `UnknownTask`, `NotAssigned`, `WrongTaskState`, `DeadlinesFull`.
		/// - Events: `TaskAccepted`.
		#[pallet::call_index(6)]
		#[pallet::weight(T::WeightInfo::accept_task())]
		pub fn accept_task(origin: OriginFor<T>, task: TaskId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_accept(who, task)
		}

		/// Reports progress on an accepted task, moving its next deadline.
		///
		/// - Origin: signed by the assigned provider.
		/// - Errors: `UnknownTask`, `NotAssigned`, `WrongTaskState`, `DeadlinesFull`.
		/// - Events: `Heartbeat`.
		#[pallet::call_index(7)]
		#[pallet::weight(T::WeightInfo::heartbeat())]
		pub fn heartbeat(origin: OriginFor<T>, task: TaskId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_heartbeat(who, task)
		}

		/// Submits an accepted task's result CID for verification.
		///
		/// - Origin: signed by the assigned provider.
		/// - Errors: `UnknownTask`, `NotAssigned`, `WrongTaskState`, `InvalidCid`, and the
		///   verifier's errors.
		/// - Events: `ResultSubmitted`.
		#[pallet::call_index(8)]
		#[pallet::weight(T::WeightInfo::submit_result().saturating_add(T::Verifier::weight()))]
		pub fn submit_result(
			origin: OriginFor<T>,
			task: TaskId,
			result: CidInput,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let result =
				verity_primitives::cid::Cid::parse(&result).map_err(|_| Error::<T>::InvalidCid)?;
			Self::do_submit(who, task, result)
		}

		/// Adds or changes a resource class (its price bounds included).
		///
		/// - Origin: [`Config::AdminOrigin`].
		/// - Errors: `InvalidClass`, `TooManyClasses`.
		/// - Events: `ResourceClassSet`.
		#[pallet::call_index(9)]
		#[pallet::weight(T::WeightInfo::set_resource_class())]
		pub fn set_resource_class(
			origin: OriginFor<T>,
			class: ClassId,
			definition: ResourceClass<BalanceOf<T>>,
		) -> DispatchResult {
			T::AdminOrigin::ensure_origin(origin)?;
			Self::do_set_class(class, definition)
		}

		/// Sets the market parameters.
		///
		/// - Origin: [`Config::AdminOrigin`].
		/// - Errors: `InvalidParams`.
		/// - Events: `ParamsSet`.
		#[pallet::call_index(10)]
		#[pallet::weight(T::WeightInfo::set_params())]
		pub fn set_params(origin: OriginFor<T>, params: ParamsOf<T>) -> DispatchResult {
			T::AdminOrigin::ensure_origin(origin)?;
			ensure!(Self::params_are_valid(&params), Error::<T>::InvalidParams);
			Params::<T>::put(params);
			Self::deposit_event(Event::ParamsSet { params });
			Ok(())
		}

		/// Publishes (or replaces) how the signer's worker is reached: its libp2p peer id and
		/// listen addresses. The first publication holds [`Config::EndpointDeposit`].
		///
		/// - Origin: signed; the signer's balance covers the deposit.
		/// - Errors: `InvalidEndpoint`, `InsufficientBalance`.
		/// - Events: `EndpointSet`.
		#[pallet::call_index(11)]
		#[pallet::weight(T::WeightInfo::set_endpoint())]
		pub fn set_endpoint(
			origin: OriginFor<T>,
			peer: BoundedVec<u8, MaxPeerIdLen>,
			addrs: BoundedVec<BoundedVec<u8, MaxAddrLen>, MaxAddrs>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_set_endpoint(who, peer, addrs)
		}

		/// Removes the signer's endpoint and releases its deposit.
		///
		/// - Origin: signed by an account with an endpoint.
		/// - Errors: `NoEndpoint`.
		/// - Events: `EndpointCleared`.
		#[pallet::call_index(12)]
		#[pallet::weight(T::WeightInfo::clear_endpoint())]
		pub fn clear_endpoint(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_clear_endpoint(who)
		}

		/// Withdraws an offer with no open task whose provider's stake is gone (unbonded or
		/// slashed below the minimum): anyone may call it, so class slots taken with stake that
		/// left are freed and stop counting as supply (security review, finding 8).
		///
		/// - Origin: signed, anyone.
		/// - Errors: `UnknownOffer`, `StillStaked`, `OfferBusy`.
		/// - Events: `OfferWithdrawn`.
		#[pallet::call_index(13)]
		#[pallet::weight(T::WeightInfo::withdraw_offer().saturating_add(T::DbWeight::get().reads(2)))]
		pub fn prune_offer(origin: OriginFor<T>, offer: OfferId) -> DispatchResult {
			ensure_signed(origin)?;
			Self::do_prune_offer(offer)
		}

		/// Declines an assigned task, without penalty, before accepting it (a kernel it cannot
		/// run, inputs it cannot fetch): the provider is excluded from the job and the task goes
		/// to the next cheapest candidate, or the job fails if there is none (security review,
		/// finding 9).
		///
		/// - Origin: signed by the assigned provider, within the accept window.
		/// - Errors: `UnknownTask`, `NotAssigned`, `WrongTaskState`.
		/// - Events: `TaskDeclined`, then `TaskAssigned` or `JobFailed`.
		#[pallet::call_index(14)]
		#[pallet::weight(Pallet::<T>::reassign_weight())]
		pub fn decline_task(origin: OriginFor<T>, task: TaskId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_decline(who, task)
		}
	}

	#[pallet::view_functions]
	impl<T: Config> Pallet<T> {
		/// The price index of a class, VER per WU.
		pub fn price_index(class: ClassId) -> BalanceOf<T> {
			PriceIndex::<T>::get(class)
		}

		/// The budget a job of `flops` FLOPs at `max_price` per WU needs.
		pub fn quote(flops: u128, max_price: BalanceOf<T>) -> Option<BalanceOf<T>> {
			Self::budget_for(flops, max_price).ok()
		}
	}
}
