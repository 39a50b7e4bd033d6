//! A training job's settings: the JSON its buyer writes into the job's `hyperparams`, read the
//! same way by the marketplace (which refuses a job whose settings are not these, and takes the
//! step count each epoch commitment must have from them) and by every member and auditor.
//!
//! Keys are camelCase; any left out take their default; unknown keys are refused; empty
//! `hyperparams` are the defaults.

/// Inner steps per epoch when the job does not say.
pub const DEFAULT_INNER_STEPS: u32 = 50;

/// The most inner steps an epoch may have: a member keeps every state its steps went through
/// until the task is paid, and an audit's Merkle proof grows with the steps' logarithm.
pub const MAX_INNER_STEPS: u32 = 4096;

/// A training job's settings (DiLoCo: each member takes `inner_steps` Adam steps on its shard
/// per epoch, then the group averages the members' moves and takes one outer Nesterov step).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
	feature = "serde",
	derive(serde::Deserialize, serde::Serialize),
	serde(rename_all = "camelCase", deny_unknown_fields, default)
)]
pub struct Hyper {
	/// Examples per inner step, from the member's own shard.
	pub batch: u32,
	/// Inner Adam learning rate.
	pub lr: f64,
	/// Inner steps per epoch: the leaves of every epoch commitment of the job.
	pub inner_steps: u32,
	/// Outer (Nesterov) learning rate.
	pub outer_lr: f64,
	/// Outer momentum.
	pub outer_momentum: f64,
	/// Seed of the data order.
	pub seed: u64,
	/// How the members' moves travel in the AllReduce: `"f32"` (exact) or `"bf16"` (half the
	/// bytes; sums still accumulated in f32).
	pub wire: Wire,
}

/// The number format of an AllReduce's values on the wire.
///
/// With `Bf16` every value a member sends is rounded to bfloat16 (to nearest, ties to even), and
/// received values are added to the member's own in f32; the member that completes a segment's
/// sum rounds it to bfloat16 too before sending it round, so every member still ends with the same
/// bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
	feature = "serde",
	derive(serde::Deserialize, serde::Serialize),
	serde(rename_all = "lowercase")
)]
pub enum Wire {
	/// 4 bytes a value, exact.
	#[default]
	F32,
	/// 2 bytes a value: bfloat16.
	Bf16,
}

impl Wire {
	/// Bytes a value takes on the wire.
	pub fn value_bytes(self) -> usize {
		match self {
			Wire::F32 => 4,
			Wire::Bf16 => 2,
		}
	}
}

/// `x` rounded to bfloat16 (to nearest, ties to even; NaN stays NaN), as its 16 bits.
pub fn to_bf16(x: f32) -> u16 {
	let b = x.to_bits();
	if x.is_nan() {
		return ((b >> 16) | 0x0040) as u16;
	}
	let round = 0x7fff + ((b >> 16) & 1);
	(b.wrapping_add(round) >> 16) as u16
}

/// The f32 a bfloat16 stands for (exact).
pub fn from_bf16(v: u16) -> f32 {
	f32::from_bits(u32::from(v) << 16)
}

impl Default for Hyper {
	fn default() -> Self {
		Hyper {
			batch: 32,
			lr: 0.005,
			inner_steps: DEFAULT_INNER_STEPS,
			outer_lr: 0.7,
			outer_momentum: 0.9,
			seed: 7,
			wire: Wire::F32,
		}
	}
}

/// Why `hyperparams` were refused.
#[derive(Debug)]
pub enum HyperError {
	/// Not JSON of [`Hyper`]'s keys and types.
	#[cfg(feature = "serde")]
	Json(serde_json::Error),
	/// JSON, but not an object.
	NotAnObject,
	/// A value out of its range.
	OutOfRange,
}

impl core::fmt::Display for HyperError {
	fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
		match self {
			#[cfg(feature = "serde")]
			HyperError::Json(e) => write!(f, "not Verity training JSON: {e}"),
			HyperError::NotAnObject => f.write_str("not a JSON object"),
			HyperError::OutOfRange => write!(
				f,
				"out of range: batch ≥ 1, innerSteps in 1..={MAX_INNER_STEPS}, lr and outerLr \
				 finite and > 0, outerMomentum in [0, 1)"
			),
		}
	}
}

impl Hyper {
	/// Whether every value is in its range.
	pub fn in_range(&self) -> bool {
		self.batch >= 1
			&& (1..=MAX_INNER_STEPS).contains(&self.inner_steps)
			&& self.lr.is_finite()
			&& self.lr > 0.0
			&& self.outer_lr.is_finite()
			&& self.outer_lr > 0.0
			&& (0.0..1.0).contains(&self.outer_momentum)
	}

	/// Reads a job's `hyperparams`: empty is the defaults, anything but a JSON object of
	/// [`Hyper`]'s keys with every value in range is refused.
	#[cfg(feature = "serde")]
	pub fn parse(bytes: &[u8]) -> Result<Self, HyperError> {
		let h = match bytes.is_empty() {
			true => Hyper::default(),
			false => {
				// An object only: serde would also read a bare list as the fields in order.
				if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
					return Err(HyperError::NotAnObject);
				}
				serde_json::from_slice(bytes).map_err(HyperError::Json)?
			}
		};
		match h.in_range() {
			true => Ok(h),
			false => Err(HyperError::OutOfRange),
		}
	}
}

#[cfg(all(test, feature = "serde"))]
mod tests {
	use super::*;

	#[test]
	fn hyperparams_parse_with_defaults_and_nonsense_is_refused() {
		assert_eq!(Hyper::parse(b"").unwrap(), Hyper::default());
		assert_eq!(Hyper::parse(b"{}").unwrap(), Hyper::default());
		assert_eq!(Hyper::parse(br#"{"wire": "bf16"}"#).unwrap().wire, Wire::Bf16);
		assert_eq!(Hyper::parse(br#"{"wire": "f32"}"#).unwrap().wire, Wire::F32);
		let h = Hyper::parse(br#"{"innerSteps": 30, "lr": 0.01}"#).unwrap();
		assert_eq!((h.inner_steps, h.lr, h.batch), (30, 0.01, Hyper::default().batch));
		let most = alloc::format!(r#"{{"innerSteps": {MAX_INNER_STEPS}}}"#);
		assert_eq!(Hyper::parse(most.as_bytes()).unwrap().inner_steps, MAX_INNER_STEPS);
		let too_many = alloc::format!(r#"{{"innerSteps": {}}}"#, MAX_INNER_STEPS + 1);
		for bad in [
			&br#"{"inner_steps": 30}"#[..],
			br#"{"batch": 0}"#,
			br#"{"innerSteps": 0}"#,
			br#"{"innerSteps": 4294967296}"#,
			too_many.as_bytes(),
			br#"{"innerSteps": 2.5}"#,
			br#"{"lr": -1}"#,
			br#"{"outerLr": 0}"#,
			br#"{"outerMomentum": 1.0}"#,
			br#"{"seed": 1, "seed": 2}"#,
			br#"not json"#,
			br#"[1, 2]"#,
			br#"{"lr": 0.1} trailing"#,
			br#"{"wire": "fp8"}"#,
			br#"{"wire": "BF16"}"#,
		] {
			assert!(Hyper::parse(bad).is_err(), "{}", alloc::string::String::from_utf8_lossy(bad));
		}
		assert!(matches!(Hyper::parse(b"[1, 2]"), Err(HyperError::NotAnObject)));
		assert!(matches!(Hyper::parse(br#"{"batch": 0}"#), Err(HyperError::OutOfRange)));
	}

	#[test]
	fn bf16_rounds_to_nearest_even_and_back_exactly() {
		assert_eq!(from_bf16(to_bf16(1.0)), 1.0);
		assert_eq!(from_bf16(to_bf16(-2.5)), -2.5);
		// 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even one, 1.
		assert_eq!(from_bf16(to_bf16(1.0 + 1.0 / 256.0)), 1.0);
		// 1 + 3·2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: the even one is 1 + 2^-6.
		assert_eq!(from_bf16(to_bf16(1.0 + 3.0 / 256.0)), 1.0 + 1.0 / 64.0);
		// Just above halfway rounds up.
		assert_eq!(from_bf16(to_bf16(1.0 + 1.0 / 256.0 + 1e-6)), 1.0 + 1.0 / 128.0);
		assert!(from_bf16(to_bf16(f32::NAN)).is_nan());
		assert_eq!(from_bf16(to_bf16(f32::INFINITY)), f32::INFINITY);
		assert_eq!(
			from_bf16(to_bf16(f32::MAX)),
			f32::INFINITY,
			"overflows to infinity, as IEEE rounding does"
		);
		for x in [0.1f32, -3.7e-20, 6.02e23, 1.5e-30] {
			let r = from_bf16(to_bf16(x));
			assert!(((r - x) / x).abs() <= 1.0 / 256.0, "{x} -> {r}");
			assert_eq!(to_bf16(r), to_bf16(x), "rounding is idempotent");
		}
	}
}
