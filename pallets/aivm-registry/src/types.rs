//! The registry's bookkeeping around the kernel record ([`KernelSpec`], defined once in
//! `verity-primitives` for the chain, the worker and the authoring script).

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use polkadot_sdk::{
	frame_support::{pallet_prelude::*, traits::fungible::Inspect},
	frame_system::pallet_prelude::BlockNumberFor,
};
use scale_info::TypeInfo;
use verity_primitives::kernel::KernelId;
pub use verity_primitives::kernel::{
	DType, Environment, KernelSpec, MaxDims, MaxTensors, MaxVersionLen, TensorSpec,
};

use crate::Config;

/// The balance type of the deposit currency.
pub type BalanceOf<T> = <<T as Config>::Currency as Inspect<
	<T as polkadot_sdk::frame_system::Config>::AccountId,
>>::Balance;

/// Whether new jobs may use a kernel.
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
pub enum KernelStatus {
	/// New jobs may use it.
	Active,
	/// No new jobs; removable once no job references it.
	Deprecated,
}

/// A stored kernel: the record plus its bookkeeping.
#[derive(
	CloneNoBound, PartialEqNoBound, EqNoBound, Encode, Decode, MaxEncodedLen, TypeInfo, DebugNoBound,
)]
#[scale_info(skip_type_params(T))]
pub struct KernelEntry<T: Config> {
	/// The immutable record.
	pub spec: KernelSpec,
	/// Who registered it and paid the deposit.
	pub owner: T::AccountId,
	/// The deposit held for its bytes.
	pub deposit: BalanceOf<T>,
	/// When it was registered.
	pub registered_at: BlockNumberFor<T>,
	/// Active or deprecated.
	pub status: KernelStatus,
	/// The newer version that supersedes it, if any.
	pub superseded_by: Option<KernelId>,
	/// Open jobs using it.
	pub jobs: u32,
}

/// Where a trained kernel version came from: the training job whose final checkpoint its
/// archive holds (the base kernel is the record's `supersedes`; the job's epochs, checkpoint CIDs
/// and step-digest roots are in proof of compute's `EpochHistory`).
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
pub struct TrainedFrom {
	/// The completed training job.
	pub job: verity_primitives::market::JobId,
	/// Its final checkpoint, verified on chain.
	pub checkpoint: verity_primitives::cid::Cid,
	/// Epochs it trained.
	pub epochs: u32,
}

/// Most versions [`crate::Pallet::history`] walks back.
pub const MAX_HISTORY: u32 = 64;
