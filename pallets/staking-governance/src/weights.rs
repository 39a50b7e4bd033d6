//! Placeholder until the benchmark CLI generates this file.
#![allow(unused_parens, unused_imports, missing_docs)]
use core::marker::PhantomData;
use polkadot_sdk::frame_support::weights::Weight;

pub trait WeightInfo {
	fn bond() -> Weight;
	fn bond_extra() -> Weight;
	fn unbond() -> Weight;
	fn withdraw_unbonded() -> Weight;
	fn validate() -> Weight;
	fn chill() -> Weight;
	fn slash() -> Weight;
	fn propose(l: u32) -> Weight;
	fn vote() -> Weight;
	fn cancel_proposal(v: u32) -> Weight;
	fn fast_track() -> Weight;
	fn set_params() -> Weight;
	fn on_initialize_idle(p: u32) -> Weight;
	fn on_initialize_tally(v: u32) -> Weight;
	fn on_initialize_enact(v: u32) -> Weight;
}

pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: polkadot_sdk::frame_system::Config> WeightInfo for SubstrateWeight<T> {
	fn bond() -> Weight {
		Weight::zero()
	}
	fn bond_extra() -> Weight {
		Weight::zero()
	}
	fn unbond() -> Weight {
		Weight::zero()
	}
	fn withdraw_unbonded() -> Weight {
		Weight::zero()
	}
	fn validate() -> Weight {
		Weight::zero()
	}
	fn chill() -> Weight {
		Weight::zero()
	}
	fn slash() -> Weight {
		Weight::zero()
	}
	fn propose(_l: u32) -> Weight {
		Weight::zero()
	}
	fn vote() -> Weight {
		Weight::zero()
	}
	fn cancel_proposal(_v: u32) -> Weight {
		Weight::zero()
	}
	fn fast_track() -> Weight {
		Weight::zero()
	}
	fn set_params() -> Weight {
		Weight::zero()
	}
	fn on_initialize_idle(_p: u32) -> Weight {
		Weight::zero()
	}
	fn on_initialize_tally(_v: u32) -> Weight {
		Weight::zero()
	}
	fn on_initialize_enact(_v: u32) -> Weight {
		Weight::zero()
	}
}
impl WeightInfo for () {
	fn bond() -> Weight {
		Weight::zero()
	}
	fn bond_extra() -> Weight {
		Weight::zero()
	}
	fn unbond() -> Weight {
		Weight::zero()
	}
	fn withdraw_unbonded() -> Weight {
		Weight::zero()
	}
	fn validate() -> Weight {
		Weight::zero()
	}
	fn chill() -> Weight {
		Weight::zero()
	}
	fn slash() -> Weight {
		Weight::zero()
	}
	fn propose(_l: u32) -> Weight {
		Weight::zero()
	}
	fn vote() -> Weight {
		Weight::zero()
	}
	fn cancel_proposal(_v: u32) -> Weight {
		Weight::zero()
	}
	fn fast_track() -> Weight {
		Weight::zero()
	}
	fn set_params() -> Weight {
		Weight::zero()
	}
	fn on_initialize_idle(_p: u32) -> Weight {
		Weight::zero()
	}
	fn on_initialize_tally(_v: u32) -> Weight {
		Weight::zero()
	}
	fn on_initialize_enact(_v: u32) -> Weight {
		Weight::zero()
	}
}
