//! Benchmarks of every call, each at its worst case: signatures are `<Bytes>`-wrapped (the pallet
//! tries the raw payload first, so this costs two verifications) and, for the calls that rewrite
//! a buyer's channel list (open, finalize, provider close), the list is full.
//!
//! `redeem_requests` runs `redeem` with vouchers covering 1 to 1,000,000 requests: its slope is
//! what `docs/benchmarks.md` reports to show that settlement cost does not depend on the number of
//! requests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::arithmetic_side_effects)]

use crate::{pallet::*, types::*, Pallet as FeeSettlement};
use alloc::vec::Vec;
use polkadot_sdk::{
	frame_benchmarking::v2::*,
	frame_support::{
		traits::{fungible::Mutate, EnsureOrigin, Get},
		BoundedVec,
	},
	frame_system::{self, RawOrigin},
	sp_core::H256,
	sp_runtime::traits::StaticLookup,
};
use verity_primitives::{
	merkle::{leaf_hash, node_hash},
	voucher::{channel_id, signing_payload, wrap_bytes},
};

fn assert_last_event<T: Config>(event: Event<T>) {
	frame_system::Pallet::<T>::assert_last_event(<T as frame_system::Config>::RuntimeEvent::from(
		event,
	));
}

fn deposit<T: Config>() -> BalanceOf<T> {
	T::MinDeposit::get() * 1_000_000u32.into()
}

/// An account with plenty of free balance; `signer` makes one whose key can sign vouchers.
fn funded<T: Config>(who: T::AccountId) -> T::AccountId {
	T::Currency::set_balance(&who, T::MinDeposit::get() * 100_000_000u32.into());
	who
}

fn signer<T: Config>() -> T::AccountId {
	funded::<T>(T::BenchmarkHelper::signer())
}

/// Opens a channel from `buyer` to `provider` and returns its id.
fn open<T: Config>(buyer: &T::AccountId, provider: &T::AccountId) -> H256 {
	let index = Buyers::<T>::get(buyer).opened;
	FeeSettlement::<T>::do_open_channel(buyer.clone(), provider.clone(), deposit::<T>()).unwrap();
	channel_id(buyer, provider, index)
}

/// Fills `buyer`'s channel list up to one short of the bound, with channels to another provider.
fn fill_channels<T: Config>(buyer: &T::AccountId, leave_free: u32) {
	let other = funded::<T>(account("other-provider", 0, 0));
	for _ in 0..T::MaxChannelsPerBuyer::get().saturating_sub(leave_free) {
		open::<T>(buyer, &other);
	}
}

/// A voucher paying `cumulative` for `nonce` requests, and its `<Bytes>`-wrapped signature.
fn signed_voucher<T: Config>(
	buyer: &T::AccountId,
	channel: H256,
	cumulative: BalanceOf<T>,
	nonce: u64,
) -> (VoucherOf<T>, T::Signature) {
	let voucher = Voucher { channel, cumulative, nonce, requests_root: H256::repeat_byte(0xab) };
	let payload = signing_payload(&FeeSettlement::<T>::genesis_hash(), &voucher);
	let signature = T::BenchmarkHelper::sign(buyer, &wrap_bytes(&payload));
	(voucher, signature)
}

/// A channel with one voucher already redeemed, so the next redeem pays into an existing account.
/// With `full_list` its buyer has `MaxChannelsPerBuyer` channels (for the calls that rewrite the
/// buyer's channel list).
fn redeemed_channel<T: Config>(full_list: bool) -> (T::AccountId, T::AccountId, H256) {
	let buyer = signer::<T>();
	let provider = funded::<T>(account("provider", 0, 0));
	if full_list {
		fill_channels::<T>(&buyer, 1);
	}
	let channel = open::<T>(&buyer, &provider);
	let (voucher, signature) = signed_voucher::<T>(&buyer, channel, T::MinDeposit::get(), 1);
	FeeSettlement::<T>::do_redeem(&provider, voucher, &signature).unwrap();
	(buyer, provider, channel)
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn open_channel() {
		let buyer = signer::<T>();
		let provider = funded::<T>(account("provider", 0, 0));
		fill_channels::<T>(&buyer, 1);
		let amount = deposit::<T>();

		#[extrinsic_call]
		_(RawOrigin::Signed(buyer.clone()), T::Lookup::unlookup(provider.clone()), amount);

		let index = u64::from(T::MaxChannelsPerBuyer::get()) - 1;
		let channel = channel_id(&buyer, &provider, index);
		assert_last_event::<T>(Event::ChannelOpened { channel, buyer, provider, deposit: amount });
	}

	#[benchmark]
	fn top_up() {
		let (buyer, _, channel) = redeemed_channel::<T>(false);
		let amount = T::MinDeposit::get();

		#[extrinsic_call]
		_(RawOrigin::Signed(buyer), channel, amount);

		assert_last_event::<T>(Event::ChannelToppedUp {
			channel,
			amount,
			deposit: deposit::<T>() + amount,
		});
	}

	#[benchmark]
	fn redeem() {
		let (buyer, provider, channel) = redeemed_channel::<T>(false);
		let cumulative = T::MinDeposit::get() * 2u32.into();
		let (voucher, signature) = signed_voucher::<T>(&buyer, channel, cumulative, 2);

		#[extrinsic_call]
		_(RawOrigin::Signed(provider.clone()), voucher, signature);

		assert_last_event::<T>(Event::VoucherRedeemed {
			channel,
			provider,
			nonce: 2,
			cumulative,
			amount: T::MinDeposit::get(),
		});
	}

	/// `redeem` of a voucher covering `r` requests, each paying `MinDeposit / 2`.
	#[benchmark]
	fn redeem_requests(r: Linear<1, 1_000_000>) {
		let (buyer, provider, channel) = redeemed_channel::<T>(false);
		FeeSettlement::<T>::do_top_up(buyer.clone(), channel, T::MinDeposit::get() * r.into())
			.unwrap();
		let cumulative = T::MinDeposit::get() + T::MinDeposit::get() * r.into() / 2u32.into();
		let nonce = 1 + u64::from(r);
		let (voucher, signature) = signed_voucher::<T>(&buyer, channel, cumulative, nonce);

		#[extrinsic_call]
		redeem(RawOrigin::Signed(provider), voucher, signature);

		assert_eq!(Channels::<T>::get(channel).unwrap().nonce, nonce);
	}

	#[benchmark]
	fn redeem_batch(c: Linear<1, { T::MaxBatch::get() }>) {
		let provider = funded::<T>(account("provider", 0, 0));
		let mut vouchers = Vec::new();
		for _ in 0..c {
			let buyer = signer::<T>();
			let channel = open::<T>(&buyer, &provider);
			vouchers.push(signed_voucher::<T>(&buyer, channel, T::MinDeposit::get(), 1));
		}
		let vouchers: BoundedVec<_, T::MaxBatch> = vouchers.try_into().ok().unwrap();

		#[extrinsic_call]
		_(RawOrigin::Signed(provider.clone()), vouchers);

		let redeemed = Channels::<T>::iter_values()
			.filter(|ch| ch.provider == provider && ch.nonce == 1)
			.count();
		assert_eq!(redeemed, c as usize);
	}

	#[benchmark]
	fn request_close() {
		let (buyer, _, channel) = redeemed_channel::<T>(false);

		#[extrinsic_call]
		_(RawOrigin::Signed(buyer), channel);

		let closes_at = frame_system::Pallet::<T>::block_number() + ChallengePeriod::<T>::get();
		assert_last_event::<T>(Event::CloseRequested { channel, closes_at });
	}

	#[benchmark]
	fn finalize_close() {
		let (buyer, _, channel) = redeemed_channel::<T>(true);
		FeeSettlement::<T>::do_request_close(buyer, channel).unwrap();
		let closes_at = Channels::<T>::get(channel).unwrap().closes_at.unwrap();
		frame_system::Pallet::<T>::set_block_number(closes_at);
		let caller = funded::<T>(whitelisted_caller());

		#[extrinsic_call]
		_(RawOrigin::Signed(caller), channel);

		assert_last_event::<T>(Event::ChannelClosed {
			channel,
			paid: T::MinDeposit::get(),
			refunded: deposit::<T>() - T::MinDeposit::get(),
		});
	}

	#[benchmark]
	fn close_by_provider() {
		let (_, provider, channel) = redeemed_channel::<T>(true);

		#[extrinsic_call]
		_(RawOrigin::Signed(provider), channel);

		assert_last_event::<T>(Event::ChannelClosed {
			channel,
			paid: T::MinDeposit::get(),
			refunded: deposit::<T>() - T::MinDeposit::get(),
		});
	}

	/// A proof with `d` siblings: request 0 of a tree of 2^d requests.
	#[benchmark]
	fn prove_request(d: Linear<0, { T::MaxProofDepth::get() }>) {
		let (_, _, channel) = redeemed_channel::<T>(false);
		let request = H256::repeat_byte(0x11);
		let proof: Vec<H256> = (0..d).map(|i| H256::repeat_byte(i as u8)).collect();
		let root =
			proof.iter().fold(leaf_hash(&request), |node, sibling| node_hash(&node, sibling));
		Channels::<T>::mutate(channel, |ch| {
			let ch = ch.as_mut().unwrap();
			ch.requests_root = root;
			ch.nonce = 1u64.checked_shl(d).unwrap_or(u64::MAX);
		});
		let nonce = Channels::<T>::get(channel).unwrap().nonce;
		let proof: BoundedVec<H256, T::MaxProofDepth> = proof.try_into().unwrap();
		let caller = funded::<T>(whitelisted_caller());

		#[extrinsic_call]
		_(RawOrigin::Signed(caller), channel, request, 0, proof);

		assert_last_event::<T>(Event::RequestProven { channel, request, index: 0, nonce });
	}

	#[benchmark]
	fn set_challenge_period() -> Result<(), BenchmarkError> {
		let origin =
			T::AdminOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		let period = T::MaxChallengePeriod::get();

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, period);

		assert_last_event::<T>(Event::ChallengePeriodSet { period });
		Ok(())
	}

	impl_benchmark_test_suite!(FeeSettlement, crate::mock::new_test_ext(), crate::mock::Test);
}
