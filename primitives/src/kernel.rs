//! AIVM kernels as other pallets see them: how much work one sample costs, which device class
//! runs them, and how a committee agrees on their results. The registry pallet implements
//! [`KernelInspect`]; the marketplace and proof-of-compute pallets use it.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use polkadot_sdk::{sp_core::H256, sp_runtime::DispatchResult};
use scale_info::TypeInfo;

/// A kernel id: blake2-256 of the SCALE encoding of the kernel's record.
pub type KernelId = H256;

/// Floating-point operations in one work unit (WU).
pub const FLOPS_PER_WU: u128 = 1_000_000_000_000;

/// The largest number of values a numeric-tolerance rule compares.
pub const MAX_SUMMARY_LEN: u16 = 64;
/// The most decimal places a quantised-digest rule may keep.
pub const MAX_QUANTISE_DECIMALS: u8 = 12;

/// Work units for `flops` floating-point operations, rounded up (any non-zero work costs at least
/// one WU).
pub fn work_units(flops: u128) -> u128 {
	flops.div_ceil(FLOPS_PER_WU)
}

/// The device class a kernel's results are reproducible on.
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
pub enum DeviceClass {
	/// x86-64 or aarch64 CPU.
	Cpu,
	/// NVIDIA GPU through CUDA.
	Cuda,
}

/// How a committee decides that its members' results agree.
///
/// Digests are sha2-256 over the canonical encoding of a task's outputs that `verity-worker`
/// documents; values on chain are fixed point, never floats.
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
pub enum AggregationRule {
	/// The digest of the outputs, bit for bit, revealed by a majority of the committee.
	ExactDigest,
	/// Outputs rounded half to even to `decimals` decimal places, then digested; majority.
	QuantisedDigest {
		/// Decimal places kept (at most [`MAX_QUANTISE_DECIMALS`]).
		decimals: u8,
	},
	/// Each member reveals a summary vector of `len` values in fixed point (units of 10^-9);
	/// two vectors agree when every element differs by at most `abs_tolerance` (same units)
	/// or by at most `rel_tolerance_ppm` parts per million of the larger magnitude.
	NumericTolerance {
		/// Values in the summary vector (1 to [`MAX_SUMMARY_LEN`]).
		len: u16,
		/// Absolute tolerance in units of 10^-9.
		abs_tolerance: u64,
		/// Relative tolerance in parts per million.
		rel_tolerance_ppm: u32,
	},
}

impl AggregationRule {
	/// `true` if the rule's parameters are within their bounds.
	pub fn is_valid(&self) -> bool {
		match *self {
			AggregationRule::ExactDigest => true,
			AggregationRule::QuantisedDigest { decimals } => decimals <= MAX_QUANTISE_DECIMALS,
			AggregationRule::NumericTolerance { len, rel_tolerance_ppm, .. } => {
				(1..=MAX_SUMMARY_LEN).contains(&len) && rel_tolerance_ppm <= 1_000_000
			}
		}
	}
}

/// What other pallets read of a kernel.
#[derive(Clone, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo, Debug)]
pub struct KernelInfo<AccountId> {
	/// Who registered it.
	pub owner: AccountId,
	/// Declared cost of the forward pass, in FLOPs per sample.
	pub inference_flops: u64,
	/// Declared cost of one training step (forward + backward + update), in FLOPs per sample.
	pub train_flops: u64,
	/// The device class its results are reproducible on.
	pub device: DeviceClass,
	/// How committees agree on its results.
	pub rule: AggregationRule,
	/// `false` once deprecated: no new jobs may use it.
	pub usable: bool,
}

/// How the marketplace and proof-of-compute pallets read kernels, and how jobs keep the kernels
/// they use from being removed.
pub trait KernelInspect<AccountId> {
	/// The kernel, if registered (deprecated kernels are still returned, with `usable: false`).
	fn kernel(id: &KernelId) -> Option<KernelInfo<AccountId>>;
	/// Records one more job using `id`; fails if the kernel is unknown or deprecated.
	fn acquire(id: &KernelId) -> DispatchResult;
	/// Records that one job using `id` has ended.
	fn release(id: &KernelId);
}
