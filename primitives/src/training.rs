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
		] {
			assert!(Hyper::parse(bad).is_err(), "{}", alloc::string::String::from_utf8_lossy(bad));
		}
		assert!(matches!(Hyper::parse(b"[1, 2]"), Err(HyperError::NotAnObject)));
		assert!(matches!(Hyper::parse(br#"{"batch": 0}"#), Err(HyperError::OutOfRange)));
	}
}
