//! The kernel record and its parts.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use polkadot_sdk::{
	frame_support::{pallet_prelude::*, traits::fungible::Inspect, BoundedVec},
	frame_system::pallet_prelude::BlockNumberFor,
};
use scale_info::TypeInfo;
use verity_primitives::{
	cid::Cid,
	kernel::{AggregationRule, DeviceClass, KernelId},
};

use crate::Config;

/// The balance type of the deposit currency.
pub type BalanceOf<T> = <<T as Config>::Currency as Inspect<
	<T as polkadot_sdk::frame_system::Config>::AccountId,
>>::Balance;

/// Most dimensions of one tensor.
pub type MaxDims = ConstU32<8>;
/// Longest libtorch version string ("2.11.0").
pub type MaxVersionLen = ConstU32<16>;

/// A tensor element type.
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
pub enum DType {
	/// 32-bit IEEE float.
	F32,
	/// 16-bit IEEE float.
	F16,
	/// bfloat16.
	BF16,
	/// 64-bit IEEE float.
	F64,
	/// 64-bit signed integer.
	I64,
	/// 32-bit signed integer.
	I32,
	/// Unsigned byte.
	U8,
}

/// The shape and element type of one input or output tensor.
#[derive(
	Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo, Debug,
)]
pub struct TensorSpec {
	/// Element type.
	pub dtype: DType,
	/// Dimensions, outermost first; `0` means "any size" (the batch dimension).
	pub shape: BoundedVec<u32, MaxDims>,
}

/// What a worker needs besides the archive to reproduce a kernel's results bit for bit.
#[derive(
	Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo, Debug,
)]
pub struct Environment {
	/// The libtorch version, e.g. `2.11.0`.
	pub libtorch: BoundedVec<u8, MaxVersionLen>,
	/// The device class results are reproducible on.
	pub device: DeviceClass,
	/// The compute dtype.
	pub dtype: DType,
	/// `torch.use_deterministic_algorithms(True)`.
	pub deterministic_algorithms: bool,
	/// TF32 matmul and convolution turned off.
	pub tf32_disabled: bool,
	/// The seed every random stream starts from.
	pub seed: u64,
}

/// A kernel record: immutable, content-addressed by [`KernelSpec::id`].
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
#[scale_info(skip_type_params(MaxTensors))]
pub struct KernelSpec<MaxTensors: Get<u32>> {
	/// The TorchScript archive (code and weights).
	pub archive: Cid,
	/// The environment it runs in.
	pub environment: Environment,
	/// Input tensors.
	pub inputs: BoundedVec<TensorSpec, MaxTensors>,
	/// Output tensors.
	pub outputs: BoundedVec<TensorSpec, MaxTensors>,
	/// Declared cost of the forward pass, FLOPs per sample (1 WU = 10^12 FLOPs).
	pub inference_flops: u64,
	/// Declared cost of one training step, FLOPs per sample; `0` if the kernel is inference-only.
	pub train_flops: u64,
	/// How committees agree on its results.
	pub rule: AggregationRule,
	/// The kernel this one is a new version of.
	pub supersedes: Option<KernelId>,
}

impl<MaxTensors: Get<u32>> KernelSpec<MaxTensors> {
	/// The kernel id: blake2-256 of the record's SCALE encoding.
	pub fn id(&self) -> KernelId {
		KernelId::from(polkadot_sdk::sp_io::hashing::blake2_256(&self.encode()))
	}
}

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
	pub spec: KernelSpec<T::MaxTensors>,
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

/// The stored spec type of a runtime.
pub type SpecOf<T> = KernelSpec<<T as Config>::MaxTensors>;
