//! Weights for `pallet_proof_of_compute`: placeholders until `scripts/bench-weights.sh
//! pallet_proof_of_compute` generates this file.

#![cfg_attr(rustfmt, rustfmt_skip)]
#![allow(missing_docs)]
#![allow(unused_variables)]

use polkadot_sdk::frame_support::{traits::Get, weights::{Weight, constants::ParityDbWeight}};
use core::marker::PhantomData;

/// Weight functions needed for `pallet_proof_of_compute`.
pub trait WeightInfo {
	fn register_verifier() -> Weight;
	fn unregister_verifier() -> Weight;
	fn commit() -> Weight;
	fn reveal() -> Weight;
	fn commit_epoch() -> Weight;
	fn reveal_leaf(p: u32) -> Weight;
	fn set_params() -> Weight;
	fn open_round(v: u32) -> Weight;
	fn close_round(k: u32) -> Weight;
	fn close_epoch(s: u32) -> Weight;
}

/// Weights for `pallet_proof_of_compute` measured on the Verity runtime.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: polkadot_sdk::frame_system::Config> WeightInfo for SubstrateWeight<T> {
	fn register_verifier() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8))
	}
	fn unregister_verifier() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8))
	}
	fn commit() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8))
	}
	fn reveal() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8))
	}
	fn commit_epoch() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8))
	}
	fn reveal_leaf(p: u32) -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8))
	}
	fn set_params() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8))
	}
	fn open_round(v: u32) -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8))
	}
	fn close_round(k: u32) -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8))
	}
	fn close_epoch(s: u32) -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8))
	}
}

impl WeightInfo for () {
	fn register_verifier() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8))
	}
	fn unregister_verifier() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8))
	}
	fn commit() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8))
	}
	fn reveal() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8))
	}
	fn commit_epoch() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8))
	}
	fn reveal_leaf(p: u32) -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8))
	}
	fn set_params() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8))
	}
	fn open_round(v: u32) -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8))
	}
	fn close_round(k: u32) -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8))
	}
	fn close_epoch(s: u32) -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8))
	}
}
