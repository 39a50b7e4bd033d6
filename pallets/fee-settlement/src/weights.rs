//! Placeholder until the benchmark CLI generates this file.
#![allow(unused_parens, unused_imports, missing_docs)]
use core::marker::PhantomData;
use polkadot_sdk::frame_support::{
	traits::Get,
	weights::{constants::RocksDbWeight, Weight},
};

pub trait WeightInfo {
	fn open_channel() -> Weight;
	fn top_up() -> Weight;
	fn redeem() -> Weight;
	fn redeem_requests(r: u32) -> Weight;
	fn redeem_batch(c: u32) -> Weight;
	fn request_close() -> Weight;
	fn finalize_close() -> Weight;
	fn close_by_provider() -> Weight;
	fn prove_request(d: u32) -> Weight;
	fn set_challenge_period() -> Weight;
}

pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: polkadot_sdk::frame_system::Config> WeightInfo for SubstrateWeight<T> {
	fn open_channel() -> Weight {
		Weight::zero()
	}
	fn top_up() -> Weight {
		Weight::zero()
	}
	fn redeem() -> Weight {
		Weight::zero()
	}
	fn redeem_requests(_r: u32) -> Weight {
		Weight::zero()
	}
	fn redeem_batch(_c: u32) -> Weight {
		Weight::zero()
	}
	fn request_close() -> Weight {
		Weight::zero()
	}
	fn finalize_close() -> Weight {
		Weight::zero()
	}
	fn close_by_provider() -> Weight {
		Weight::zero()
	}
	fn prove_request(_d: u32) -> Weight {
		Weight::zero()
	}
	fn set_challenge_period() -> Weight {
		Weight::zero()
	}
}
impl WeightInfo for () {
	fn open_channel() -> Weight {
		Weight::zero()
	}
	fn top_up() -> Weight {
		Weight::zero()
	}
	fn redeem() -> Weight {
		Weight::zero()
	}
	fn redeem_requests(_r: u32) -> Weight {
		Weight::zero()
	}
	fn redeem_batch(_c: u32) -> Weight {
		Weight::zero()
	}
	fn request_close() -> Weight {
		Weight::zero()
	}
	fn finalize_close() -> Weight {
		Weight::zero()
	}
	fn close_by_provider() -> Weight {
		Weight::zero()
	}
	fn prove_request(_d: u32) -> Weight {
		Weight::zero()
	}
	fn set_challenge_period() -> Weight {
		Weight::zero()
	}
}
