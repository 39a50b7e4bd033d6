//! Weights for `pallet_aivm_registry`: placeholders until `scripts/bench-weights.sh
//! pallet_aivm_registry` generates this file.

#![cfg_attr(rustfmt, rustfmt_skip)]
#![allow(missing_docs)]

use polkadot_sdk::frame_support::{traits::Get, weights::{Weight, constants::ParityDbWeight}};
use core::marker::PhantomData;

/// Weight functions needed for `pallet_aivm_registry`.
pub trait WeightInfo {
	fn register_kernel() -> Weight;
	fn deprecate_kernel() -> Weight;
	fn remove_kernel() -> Weight;
	fn force_deprecate_kernel() -> Weight;
}

/// Weights for `pallet_aivm_registry` measured on the Verity runtime.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: polkadot_sdk::frame_system::Config> WeightInfo for SubstrateWeight<T> {
	fn register_kernel() -> Weight {
		Weight::from_parts(1_000_000_000, 4000).saturating_add(T::DbWeight::get().reads_writes(4, 4))
	}
	fn deprecate_kernel() -> Weight {
		Weight::from_parts(1_000_000_000, 4000).saturating_add(T::DbWeight::get().reads_writes(1, 1))
	}
	fn remove_kernel() -> Weight {
		Weight::from_parts(1_000_000_000, 4000).saturating_add(T::DbWeight::get().reads_writes(3, 3))
	}
	fn force_deprecate_kernel() -> Weight {
		Weight::from_parts(1_000_000_000, 4000).saturating_add(T::DbWeight::get().reads_writes(1, 1))
	}
}

impl WeightInfo for () {
	fn register_kernel() -> Weight {
		Weight::from_parts(1_000_000_000, 4000).saturating_add(ParityDbWeight::get().reads_writes(4, 4))
	}
	fn deprecate_kernel() -> Weight {
		Weight::from_parts(1_000_000_000, 4000).saturating_add(ParityDbWeight::get().reads_writes(1, 1))
	}
	fn remove_kernel() -> Weight {
		Weight::from_parts(1_000_000_000, 4000).saturating_add(ParityDbWeight::get().reads_writes(3, 3))
	}
	fn force_deprecate_kernel() -> Weight {
		Weight::from_parts(1_000_000_000, 4000).saturating_add(ParityDbWeight::get().reads_writes(1, 1))
	}
}
