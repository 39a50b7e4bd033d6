//! Weights for `pallet_marketplace`: placeholders until `scripts/bench-weights.sh
//! pallet_marketplace` generates this file.

#![cfg_attr(rustfmt, rustfmt_skip)]
#![allow(missing_docs)]
#![allow(unused_variables)]

use polkadot_sdk::frame_support::{traits::Get, weights::{Weight, constants::ParityDbWeight}};
use core::marker::PhantomData;

/// Weight functions needed for `pallet_marketplace`.
pub trait WeightInfo {
	fn publish_offer() -> Weight;
	fn update_offer() -> Weight;
	fn set_offer_status() -> Weight;
	fn withdraw_offer() -> Weight;
	fn post_job(i: u32) -> Weight;
	fn cancel_job() -> Weight;
	fn accept_task() -> Weight;
	fn heartbeat() -> Weight;
	fn submit_result() -> Weight;
	fn set_resource_class() -> Weight;
	fn set_params() -> Weight;
	fn on_initialize_index(c: u32) -> Weight;
	fn on_initialize_task_missed(o: u32) -> Weight;
	fn on_initialize_job_failed(t: u32) -> Weight;
	fn on_initialize_allocate(o: u32, t: u32) -> Weight;
	fn complete_job(t: u32) -> Weight;
}

/// Weights for `pallet_marketplace` measured on the Verity runtime.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: polkadot_sdk::frame_system::Config> WeightInfo for SubstrateWeight<T> {
	fn publish_offer() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8))
	}
	fn update_offer() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8))
	}
	fn set_offer_status() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8))
	}
	fn withdraw_offer() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8))
	}
	fn post_job(i: u32) -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8))
	}
	fn cancel_job() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8))
	}
	fn accept_task() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8))
	}
	fn heartbeat() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8))
	}
	fn submit_result() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8))
	}
	fn set_resource_class() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8))
	}
	fn set_params() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8))
	}
	fn on_initialize_index(c: u32) -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8))
	}
	fn on_initialize_task_missed(o: u32) -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8))
	}
	fn on_initialize_job_failed(t: u32) -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8))
	}
	fn on_initialize_allocate(o: u32, t: u32) -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8))
	}
	fn complete_job(t: u32) -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(T::DbWeight::get().reads_writes(8, 8))
	}
}

impl WeightInfo for () {
	fn publish_offer() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8))
	}
	fn update_offer() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8))
	}
	fn set_offer_status() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8))
	}
	fn withdraw_offer() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8))
	}
	fn post_job(i: u32) -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8))
	}
	fn cancel_job() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8))
	}
	fn accept_task() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8))
	}
	fn heartbeat() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8))
	}
	fn submit_result() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8))
	}
	fn set_resource_class() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8))
	}
	fn set_params() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8))
	}
	fn on_initialize_index(c: u32) -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8))
	}
	fn on_initialize_task_missed(o: u32) -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8))
	}
	fn on_initialize_job_failed(t: u32) -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8))
	}
	fn on_initialize_allocate(o: u32, t: u32) -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8))
	}
	fn complete_job(t: u32) -> Weight {
		Weight::from_parts(1_000_000_000, 10_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8))
	}
}
