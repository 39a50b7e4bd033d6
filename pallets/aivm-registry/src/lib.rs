//! # AIVM kernel registry: everything a node needs to run a model exactly as every other node does
//!
//! A **kernel** (its record, [`KernelSpec`], is defined in `verity-primitives` and shared with
//! `verity-worker` and the authoring script `scripts/kernels.py`) is a TorchScript archive (code and weights) named by its CID, plus the
//! [`Environment`] that makes its results reproducible (libtorch version, device class, dtype,
//! determinism flags, seed), its input and output [`TensorSpec`]s, its declared cost in FLOPs per
//! sample for a forward pass and for a training step (one work unit, WU, is 10^12 FLOPs; the
//! marketplace prices jobs from this), and the [`AggregationRule`] a verification committee must
//! satisfy.
//!
//! - **Content-addressed and immutable**: the kernel id is blake2-256 of
//!   `b"verity/kernel/v1" ‖ owner ‖ record`, SCALE-encoded ([`KernelSpec::id`]); an owner
//!   registering the same record twice gets `KernelExists`. Records are never edited.
//! - **No id squatting** (security review finding 16): the owner is part of the id, so a copy of
//!   someone's record front-run from the transaction pool is a different kernel; it cannot take
//!   the original's id and deprecate it for everyone.
//! - **Versions**: a record may name the kernel it `supersedes` (same owner, not yet superseded);
//!   the old record gets a `superseded_by` link and stays readable and usable until deprecated.
//! - **Trained versions and their lineage**: `register_trained_kernel(job, …)` registers the
//!   model a completed training job produced (read through [`TrainingRecords`], the marketplace
//!   in the runtime) as the next version of the kernel it trained, for the job's buyer, once per
//!   job; [`Lineage`] keeps the job, its final checkpoint and its epoch count for the version
//!   (the epochs' checkpoints and roots are in proof of compute's `EpochHistory`), and the view
//!   function `history` walks a kernel's versions back with each one's lineage.
//! - **Deprecation**: the owner (or [`Config::AdminOrigin`], i.e. a governance vote) deprecates a
//!   kernel: no new job may use it. Jobs that already use it hold a reference
//!   ([`KernelInspect::acquire`]/[`KernelInspect::release`]); a deprecated kernel with no
//!   references can be removed by its owner, which returns the deposit.
//! - **Bounds**: at most [`MaxTensors`] inputs and outputs, each of at most `MaxDims`
//!   dimensions (the record's own bounds, so every record the worker can read fits the chain).
//! - **Deposit**: `DepositBase + DepositPerByte × encoded size`, held from the owner with a
//!   `fungible` hold (reason `KernelDeposit`).
//! - **CIDs** are parsed and validated on chain by [`verity_primitives::cid::Cid::parse`]: CIDv1,
//!   sha2-256 multihash, codec `raw` (0x55) or `dag-pb` (0x70), binary or base32 `b…` text.
//!
//! Other pallets read kernels only through [`KernelInspect`].
//!
//! ## Example
//!
//! From `tests::register_kernel_works`:
//!
//! ```ignore
//! let s = spec(b"digits.pt", None); // the record the call below builds
//! assert_ok!(Registry::register_kernel(
//!     RuntimeOrigin::signed(ALICE), cid_text(b"digits.pt"), env(), s.inputs.clone(),
//!     s.outputs.clone(), 9_000, 27_000, AggregationRule::ExactDigest, None,
//! ));
//! let id = s.id(&ALICE); // blake2-256 of the domain tag, the owner and the record
//! assert_eq!(Kernels::<Test>::get(id).unwrap().deposit, 100 + s.encoded_size() as Balance);
//! ```

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

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
pub use verity_primitives::kernel::{AggregationRule, DeviceClass, KernelId, KernelInspect};
pub use verity_primitives::market::TrainingRecords;
pub use weights::WeightInfo;

/// A CID as a call argument: binary CIDv1 or its base32 text, parsed on chain.
pub type CidInput =
	polkadot_sdk::frame_support::BoundedVec<u8, polkadot_sdk::frame_support::traits::ConstU32<64>>;

// `register_kernel` takes each part of the record as its own argument, so that polkadot.js users
// fill in named fields without custom types.
#[allow(clippy::too_many_arguments)]
#[polkadot_sdk::frame_support::pallet]
pub mod pallet {
	use super::*;
	use polkadot_sdk::{
		frame_support::{
			pallet_prelude::*,
			traits::fungible::{InspectHold, Mutate, MutateHold},
		},
		frame_system::pallet_prelude::*,
	};

	const STORAGE_VERSION: StorageVersion = StorageVersion::new(0);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	/// Why the pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// The deposit for a kernel record's bytes.
		#[codec(index = 0)]
		KernelDeposit,
	}

	#[pallet::config]
	pub trait Config: polkadot_sdk::frame_system::Config<RuntimeEvent: From<Event<Self>>> {
		/// The deposit currency.
		type Currency: MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
			+ InspectHold<Self::AccountId>
			+ Mutate<Self::AccountId>;

		/// The overarching hold reason.
		type RuntimeHoldReason: From<HoldReason>;

		/// Who deprecates any kernel (Root: a passed proposal).
		type AdminOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// Completed training jobs (the marketplace): what a trained version links to.
		type Training: TrainingRecords<Self::AccountId>;

		/// Deposit per kernel record, whatever its size: pays for the storage item itself.
		#[pallet::constant]
		type DepositBase: Get<BalanceOf<Self>>;

		/// Deposit per byte of the encoded record.
		#[pallet::constant]
		type DepositPerByte: Get<BalanceOf<Self>>;

		/// Weights from this pallet's benchmarks.
		type WeightInfo: WeightInfo;
	}

	/// Registered kernels by id.
	// Hasher: ids are hashes of user-chosen records; Blake2_128Concat so that grinding cannot
	// unbalance the trie.
	#[pallet::storage]
	pub type Kernels<T: Config> = StorageMap<_, Blake2_128Concat, KernelId, KernelEntry<T>>;

	/// Trained versions' lineage: the training job each was registered from.
	// Hasher: as `Kernels`.
	#[pallet::storage]
	pub type Lineage<T: Config> = StorageMap<_, Blake2_128Concat, KernelId, TrainedFrom>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A kernel was registered.
		KernelRegistered {
			/// Its id.
			kernel: KernelId,
			/// Who registered it.
			owner: T::AccountId,
			/// The TorchScript archive.
			archive: verity_primitives::cid::Cid,
			/// The deposit held.
			deposit: BalanceOf<T>,
			/// The kernel it supersedes.
			supersedes: Option<KernelId>,
		},
		/// A kernel was registered as the model a training job produced (after its
		/// `KernelRegistered`).
		KernelTrained {
			/// The new version.
			kernel: KernelId,
			/// The kernel that was trained.
			base: KernelId,
			/// The training job.
			job: verity_primitives::market::JobId,
			/// The job's final checkpoint, which the version's archive holds.
			checkpoint: verity_primitives::cid::Cid,
		},
		/// A kernel was deprecated: no new jobs may use it.
		KernelDeprecated {
			/// The kernel.
			kernel: KernelId,
			/// `true` if deprecated by the admin origin rather than the owner.
			forced: bool,
		},
		/// A deprecated, unreferenced kernel was removed and its deposit returned.
		KernelRemoved {
			/// The kernel.
			kernel: KernelId,
			/// The owner.
			owner: T::AccountId,
			/// The deposit released.
			deposit: BalanceOf<T>,
		},
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The archive CID is malformed: it must be CIDv1 with a sha2-256 multihash and codec
		/// `raw` or `dag-pb`, in binary or base32 `b…` text form.
		InvalidCid,
		/// An input or output list is empty, a tensor has no dimensions, or the libtorch version
		/// is empty.
		InvalidSchema,
		/// The aggregation rule's parameters are out of bounds (decimals ≤ 12; summary length 1 to
		/// 64; relative tolerance ≤ 10^6 ppm).
		InvalidRule,
		/// The declared forward cost is zero: every kernel costs something to run.
		ZeroCost,
		/// A kernel with exactly this record is already registered.
		KernelExists,
		/// No kernel with this id.
		UnknownKernel,
		/// Only the kernel's owner may do this.
		NotOwner,
		/// The kernel is already deprecated.
		AlreadyDeprecated,
		/// Only a deprecated kernel can be removed: deprecate it first.
		NotDeprecated,
		/// Jobs still use the kernel: remove it after they end.
		InUse,
		/// The kernel named in `supersedes` already has a newer version.
		AlreadySuperseded,
		/// The owner's free balance cannot cover the deposit.
		InsufficientDeposit,
		/// No completed training job with this id.
		UnknownTraining,
		/// Only the training job's buyer may register its model.
		NotBuyer,
		/// The training job's model is already registered as a kernel version.
		AlreadyRegistered,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		#[cfg(feature = "try-runtime")]
		fn try_state(
			_n: BlockNumberFor<T>,
		) -> Result<(), polkadot_sdk::sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Registers a kernel record; its id is [`KernelSpec::id`] of the record and the signer.
		///
		/// - Origin: signed; the signer owns the kernel and pays the deposit.
		/// - Details: `archive` is parsed as a CID; the deposit is held; with `supersedes`, the old
		///   kernel (same owner, no newer version yet) gets a `superseded_by` link.
		/// - Errors: `InvalidCid`, `InvalidSchema`, `InvalidRule`, `ZeroCost`, `KernelExists`,
		///   `UnknownKernel`, `NotOwner`, `AlreadySuperseded`, `InsufficientDeposit`.
		/// - Events: `KernelRegistered`.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::register_kernel())]
		pub fn register_kernel(
			origin: OriginFor<T>,
			archive: CidInput,
			environment: Environment,
			inputs: BoundedVec<TensorSpec, MaxTensors>,
			outputs: BoundedVec<TensorSpec, MaxTensors>,
			inference_flops: u64,
			train_flops: u64,
			rule: AggregationRule,
			supersedes: Option<KernelId>,
		) -> DispatchResult {
			let owner = ensure_signed(origin)?;
			let archive =
				verity_primitives::cid::Cid::parse(&archive).map_err(|_| Error::<T>::InvalidCid)?;
			let spec = KernelSpec {
				archive,
				environment,
				inputs,
				outputs,
				inference_flops,
				train_flops,
				rule,
				supersedes,
			};
			Self::do_register(owner, spec).map(|_| ())
		}

		/// Deprecates a kernel: no new jobs may use it.
		///
		/// - Origin: signed by the owner.
		/// - Errors: `UnknownKernel`, `NotOwner`, `AlreadyDeprecated`.
		/// - Events: `KernelDeprecated { forced: false }`.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::deprecate_kernel())]
		pub fn deprecate_kernel(origin: OriginFor<T>, kernel: KernelId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_deprecate(kernel, Some(who))
		}

		/// Removes a deprecated kernel no job uses and returns its deposit.
		///
		/// - Origin: signed by the owner.
		/// - Errors: `UnknownKernel`, `NotOwner`, `NotDeprecated`, `InUse`.
		/// - Events: `KernelRemoved`.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::remove_kernel())]
		pub fn remove_kernel(origin: OriginFor<T>, kernel: KernelId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_remove(kernel, who)
		}

		/// Deprecates any kernel, e.g. one found to be broken.
		///
		/// - Origin: [`Config::AdminOrigin`].
		/// - Errors: `UnknownKernel`, `AlreadyDeprecated`.
		/// - Events: `KernelDeprecated { forced: true }`.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::force_deprecate_kernel())]
		pub fn force_deprecate_kernel(origin: OriginFor<T>, kernel: KernelId) -> DispatchResult {
			T::AdminOrigin::ensure_origin(origin)?;
			Self::do_deprecate(kernel, None)
		}

		/// Registers the model a completed training job produced as the next version of the
		/// kernel it trained, with its lineage: the record's `supersedes` is the job's kernel,
		/// and the chain keeps which job and final checkpoint the version came from.
		///
		/// The archive is the base kernel's code with the job's final checkpoint as its
		/// parameters (`verity-worker export`, byte-reproducible: anyone can re-export the base
		/// with the checkpoint fetched by its CID and compare the archive CID).
		///
		/// - Origin: signed by the job's buyer, who must own the base kernel (as for any version).
		/// - Errors: those of `register_kernel`, and `UnknownTraining`, `NotBuyer`,
		///   `AlreadyRegistered`.
		/// - Events: `KernelRegistered`, `KernelTrained`.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::register_kernel()
			.saturating_add(T::DbWeight::get().reads_writes(1, 2)))]
		pub fn register_trained_kernel(
			origin: OriginFor<T>,
			job: verity_primitives::market::JobId,
			archive: CidInput,
			environment: Environment,
			inputs: BoundedVec<TensorSpec, MaxTensors>,
			outputs: BoundedVec<TensorSpec, MaxTensors>,
			inference_flops: u64,
			train_flops: u64,
			rule: AggregationRule,
		) -> DispatchResult {
			let owner = ensure_signed(origin)?;
			let archive =
				verity_primitives::cid::Cid::parse(&archive).map_err(|_| Error::<T>::InvalidCid)?;
			// `supersedes` is the trained kernel, set from the job's record.
			let spec = KernelSpec {
				archive,
				environment,
				inputs,
				outputs,
				inference_flops,
				train_flops,
				rule,
				supersedes: None,
			};
			Self::do_register_trained(owner, job, spec).map(|_| ())
		}
	}

	#[pallet::view_functions]
	impl<T: Config> Pallet<T> {
		/// The kernel's record, owner, status and links.
		pub fn kernel(id: KernelId) -> Option<KernelEntry<T>> {
			Kernels::<T>::get(id)
		}

		/// The kernel's version history, newest first: each version back through `supersedes`
		/// (at most 64), with the training job it came from where it was registered as one.
		pub fn history(id: KernelId) -> alloc::vec::Vec<(KernelId, Option<TrainedFrom>)> {
			Self::versions(id)
		}

		/// The deposit a record of `encoded_len` bytes needs.
		pub fn deposit_for(encoded_len: u32) -> BalanceOf<T> {
			Self::deposit_of(encoded_len)
		}
	}
}
