//! The AIVM kernel record, defined once for the chain, the worker and the authoring script.
//!
//! [`KernelSpec`] is everything a node needs to run a model exactly as every other node does: the
//! TorchScript archive's CID, the [`Environment`] (libtorch version, device class, dtype,
//! determinism switches, seed), the input and output [`TensorSpec`]s, the declared cost, and the
//! [`AggregationRule`] a committee must satisfy. The registry pallet stores it (its id is
//! blake2-256 of its SCALE encoding); `verity-worker` reads it from a kernel's `kernel.json`
//! (JSON through serde, with the `serde` feature) and `scripts/kernels.py` writes that JSON, so
//! the record a buyer registers is byte for byte the record the worker runs.
//!
//! JSON form (the `serde` feature; unknown fields are rejected):
//!
//! ```json
//! { "archive": "bafkrei…",
//!   "environment": { "libtorch": "2.11.0", "device": "cpu", "dtype": "f32",
//!                    "deterministic_algorithms": true, "tf32_disabled": true, "seed": 7 },
//!   "inputs":  [ { "dtype": "f32", "shape": [0, 64] } ],
//!   "outputs": [ { "dtype": "f32", "shape": [0, 10] } ],
//!   "inference_flops": 18944, "train_flops": 56832,
//!   "rule": { "kind": "quantised_digest", "decimals": 3 },
//!   "supersedes": null }
//! ```
//!
//! How other pallets see a kernel: [`KernelInfo`] through [`KernelInspect`], which the registry
//! implements and the marketplace and proof-of-compute pallets use.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use polkadot_sdk::{
	sp_core::{ConstU32, H256},
	sp_runtime::{BoundedVec, DispatchResult},
};
use scale_info::TypeInfo;

use crate::cid::Cid;

/// A kernel id: blake2-256 of a domain tag, the owner and the kernel's record ([`KernelSpec::id`]).
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
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum DeviceClass {
	/// x86-64 or aarch64 CPU.
	Cpu,
	/// NVIDIA GPU through CUDA.
	Cuda,
}

/// How a committee decides that its members' results agree.
///
/// The digest each member reveals is defined, byte for byte, in [`crate::digest`]; values on
/// chain are fixed point, never floats.
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
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields))]
pub enum AggregationRule {
	/// The digest of the outputs, bit for bit, revealed by a majority of the committee.
	ExactDigest,
	/// Outputs rounded half to even to `decimals` decimal places ([`crate::digest::quantise`]),
	/// then digested; majority.
	QuantisedDigest {
		/// Decimal places kept (at most [`MAX_QUANTISE_DECIMALS`]).
		decimals: u8,
	},
	/// Each member reveals a summary vector of `len` values in fixed point (units of 10^-9,
	/// [`crate::digest::summary`]);
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

/// The largest number of input or output tensors of a kernel.
pub type MaxTensors = ConstU32<8>;
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
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
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
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct TensorSpec {
	/// Element type.
	pub dtype: DType,
	/// Dimensions, outermost first; `0` means "any size" (the batch dimension).
	#[cfg_attr(feature = "serde", serde(with = "serde_bounded::vec"))]
	pub shape: BoundedVec<u32, MaxDims>,
}

impl TensorSpec {
	/// Whether a tensor of `dtype` and `dims` fits this spec (a `0` dimension takes any size).
	pub fn accepts(&self, dtype: DType, dims: &[u64]) -> bool {
		self.dtype == dtype
			&& self.shape.len() == dims.len()
			&& self.shape.iter().zip(dims).all(|(want, got)| *want == 0 || u64::from(*want) == *got)
	}
}

/// What a worker needs besides the archive to reproduce a kernel's results bit for bit.
#[derive(
	Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo, Debug,
)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Environment {
	/// The libtorch version, e.g. `2.11.0`.
	#[cfg_attr(feature = "serde", serde(with = "serde_bounded::text"))]
	pub libtorch: BoundedVec<u8, MaxVersionLen>,
	/// The device class results are reproducible on.
	pub device: DeviceClass,
	/// The compute dtype.
	pub dtype: DType,
	/// `torch.use_deterministic_algorithms(True)` and deterministic cuDNN.
	pub deterministic_algorithms: bool,
	/// TF32 (and BF16) matmul and convolution turned off: IEEE float32 everywhere.
	pub tf32_disabled: bool,
	/// The seed every random stream starts from.
	pub seed: u64,
}

/// A kernel record: immutable, content-addressed by [`KernelSpec::id`].
#[derive(
	Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo, Debug,
)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct KernelSpec {
	/// The TorchScript archive (code and weights).
	pub archive: Cid,
	/// The environment it runs in.
	pub environment: Environment,
	/// Input tensors.
	#[cfg_attr(feature = "serde", serde(with = "serde_bounded::vec"))]
	pub inputs: BoundedVec<TensorSpec, MaxTensors>,
	/// Output tensors.
	#[cfg_attr(feature = "serde", serde(with = "serde_bounded::vec"))]
	pub outputs: BoundedVec<TensorSpec, MaxTensors>,
	/// Declared cost of the forward pass, FLOPs per sample (1 WU = 10^12 FLOPs).
	pub inference_flops: u64,
	/// Declared cost of one training step, FLOPs per sample; `0` if the kernel is inference-only.
	pub train_flops: u64,
	/// How committees agree on its results.
	pub rule: AggregationRule,
	/// The kernel this one is a new version of.
	#[cfg_attr(feature = "serde", serde(with = "serde_bounded::opt_h256"))]
	pub supersedes: Option<KernelId>,
}

impl KernelSpec {
	/// The kernel id of this record registered by `owner`: blake2-256 of
	/// `b"verity/kernel/v1" ‖ owner ‖ record`, SCALE-encoded.
	///
	/// The owner is part of the preimage (security review finding 16) so that whoever sees a
	/// registration in the transaction pool cannot register the same record first under the same
	/// id, own it, and deprecate it for everyone: the copy gets an id of its own.
	pub fn id<A: Encode>(&self, owner: &A) -> KernelId {
		KernelId::from(polkadot_sdk::sp_crypto_hashing::blake2_256(
			&(KERNEL_ID_DOMAIN, owner, self).encode(),
		))
	}

	/// blake2-256 of the record's SCALE encoding alone: what the record is, whoever owns it.
	pub fn content_hash(&self) -> H256 {
		H256::from(polkadot_sdk::sp_crypto_hashing::blake2_256(&self.encode()))
	}
}

/// The domain tag in a kernel id's preimage ([`KernelSpec::id`]).
pub const KERNEL_ID_DOMAIN: [u8; 16] = *b"verity/kernel/v1";

/// serde forms of the record's bounded fields: lists as JSON arrays, the libtorch version as a
/// string, a kernel id as `0x`-prefixed hex; a list over its bound is an error, not truncated.
#[cfg(feature = "serde")]
mod serde_bounded {
	use super::*;
	use alloc::{format, string::String, vec::Vec};
	use polkadot_sdk::sp_core::Get;
	use serde::{de::Error, Deserialize, Deserializer, Serialize, Serializer};

	pub mod vec {
		use super::*;

		pub fn serialize<T: Serialize, S: Serializer>(
			v: &BoundedVec<T, impl Get<u32>>,
			s: S,
		) -> Result<S::Ok, S::Error> {
			v.as_slice().serialize(s)
		}

		pub fn deserialize<'de, T: Deserialize<'de>, B: Get<u32>, D: Deserializer<'de>>(
			d: D,
		) -> Result<BoundedVec<T, B>, D::Error> {
			let v = Vec::<T>::deserialize(d)?;
			let len = v.len();
			BoundedVec::try_from(v)
				.map_err(|_| D::Error::custom(format!("{len} items, at most {}", B::get())))
		}
	}

	pub mod text {
		use super::*;

		pub fn serialize<S: Serializer>(
			v: &BoundedVec<u8, impl Get<u32>>,
			s: S,
		) -> Result<S::Ok, S::Error> {
			let text = core::str::from_utf8(v).map_err(serde::ser::Error::custom)?;
			s.serialize_str(text)
		}

		pub fn deserialize<'de, B: Get<u32>, D: Deserializer<'de>>(
			d: D,
		) -> Result<BoundedVec<u8, B>, D::Error> {
			let text = String::deserialize(d)?;
			BoundedVec::try_from(text.into_bytes())
				.map_err(|_| D::Error::custom(format!("longer than {} bytes", B::get())))
		}
	}

	pub mod opt_h256 {
		use super::*;

		pub fn serialize<S: Serializer>(v: &Option<H256>, s: S) -> Result<S::Ok, S::Error> {
			match v {
				None => s.serialize_none(),
				Some(h) => s.serialize_some(&crate::hex::encode(h.as_bytes())),
			}
		}

		pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<H256>, D::Error> {
			let Some(text) = Option::<String>::deserialize(d)? else { return Ok(None) };
			let bytes = crate::hex::decode(&text).filter(|b| b.len() == 32).ok_or_else(|| {
				D::Error::custom(format!("{text:?} is not a 0x-prefixed 32-byte id"))
			})?;
			Ok(Some(H256::from_slice(&bytes)))
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

#[cfg(all(test, feature = "serde"))]
mod tests {
	use super::*;
	use serde_json::json;

	fn record() -> serde_json::Value {
		json!({
			"archive": crate::cid::Cid::of_raw_bytes(b"kernel.pt").to_text(),
			"environment": { "libtorch": "2.11.0", "device": "cpu", "dtype": "f32",
				"deterministic_algorithms": true, "tf32_disabled": true, "seed": 7 },
			"inputs": [{ "dtype": "f32", "shape": [0, 64] }],
			"outputs": [{ "dtype": "f32", "shape": [0, 10] }],
			"inference_flops": 18944, "train_flops": 56832,
			"rule": { "kind": "quantised_digest", "decimals": 3 },
			"supersedes": null
		})
	}

	#[test]
	fn json_record_round_trips_and_names_the_chain_types() {
		let spec: KernelSpec = serde_json::from_value(record()).unwrap();
		assert_eq!(spec.environment.libtorch.as_slice(), b"2.11.0");
		assert_eq!(spec.environment.device, DeviceClass::Cpu);
		assert_eq!(spec.inputs[0].shape.as_slice(), &[0, 64]);
		assert_eq!(spec.rule, AggregationRule::QuantisedDigest { decimals: 3 });
		assert_eq!(serde_json::to_value(&spec).unwrap(), record());
		let newer = json!({ "supersedes": format!("0x{}", "ab".repeat(32)) });
		let mut v = record();
		v["supersedes"] = newer["supersedes"].clone();
		let spec: KernelSpec = serde_json::from_value(v.clone()).unwrap();
		assert_eq!(spec.supersedes, Some(H256::repeat_byte(0xab)));
		assert_eq!(serde_json::to_value(&spec).unwrap(), v);
		let tolerance = json!({ "kind": "numeric_tolerance", "len": 4, "abs_tolerance": 10,
			"rel_tolerance_ppm": 100 });
		let rule: AggregationRule = serde_json::from_value(tolerance).unwrap();
		assert!(matches!(rule, AggregationRule::NumericTolerance { len: 4, .. }));
	}

	#[test]
	fn json_records_the_chain_would_refuse_are_refused() {
		let bad = |edit: &dyn Fn(&mut serde_json::Value)| {
			let mut v = record();
			edit(&mut v);
			serde_json::from_value::<KernelSpec>(v).unwrap_err().to_string()
		};
		assert!(bad(&|v| v["extra"] = json!(1)).contains("unknown field"));
		assert!(bad(&|v| v["environment"]["tf32"] = json!(false)).contains("unknown field"));
		assert!(bad(&|v| v["archive"] = json!("Qm123")).contains("not CIDv1"));
		assert!(bad(&|v| v["environment"]["libtorch"] = json!("x".repeat(17))).contains("16 bytes"));
		assert!(bad(&|v| v["inputs"] = json!(vec![json!({"dtype": "f32", "shape": [1]}); 9]))
			.contains("at most 8"));
		// The worker's old "-1 = batch" (serde_json words the error differently depending on its
		// features, so only the refusal is checked).
		bad(&|v| v["inputs"][0]["shape"] = json!([-1, 64]));
		assert!(bad(&|v| v["environment"]["dtype"] = json!("float32")).contains("unknown variant"));
		assert!(bad(&|v| v["rule"] = json!({ "kind": "quantised", "fractional_bits": 8 }))
			.contains("unknown variant"));
		assert!(bad(&|v| v["supersedes"] = json!("0x12")).contains("32-byte id"));
	}

	#[test]
	fn tensor_specs_accept_any_batch_and_nothing_else() {
		let spec: KernelSpec = serde_json::from_value(record()).unwrap();
		let input = &spec.inputs[0];
		assert!(input.accepts(DType::F32, &[1, 64]));
		assert!(input.accepts(DType::F32, &[360, 64]));
		assert!(!input.accepts(DType::F32, &[360, 63]));
		assert!(!input.accepts(DType::I64, &[360, 64]));
		assert!(!input.accepts(DType::F32, &[64]));
	}
}
