//! Types stored and passed by the fee-settlement pallet.

#![cfg_attr(
	not(test),
	deny(
		clippy::unwrap_used,
		clippy::expect_used,
		clippy::indexing_slicing,
		clippy::arithmetic_side_effects
	)
)]

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use polkadot_sdk::{
	frame_support::{traits::fungible::Inspect, BoundedVec},
	frame_system::pallet_prelude::BlockNumberFor,
	sp_core::{Get, H256},
};
use scale_info::TypeInfo;

pub use verity_primitives::voucher::Voucher;

use crate::Config;

/// The balance type of the pallet's currency.
pub type BalanceOf<T> = <<T as Config>::Currency as Inspect<
	<T as polkadot_sdk::frame_system::Config>::AccountId,
>>::Balance;

/// A voucher as the pallet's calls take it.
pub type VoucherOf<T> = Voucher<BalanceOf<T>>;

/// A voucher with the buyer's signature, as `redeem_batch` takes it.
pub type SignedVoucherOf<T> = (VoucherOf<T>, <T as Config>::Signature);

/// A channel as stored.
pub type ChannelOf<T> =
	Channel<<T as polkadot_sdk::frame_system::Config>::AccountId, BalanceOf<T>, BlockNumberFor<T>>;

/// An open payment channel from a buyer to one provider.
#[derive(Clone, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo, Debug)]
pub struct Channel<AccountId, Balance, BlockNumber> {
	/// Who deposited and signs vouchers.
	pub buyer: AccountId,
	/// Who serves requests and redeems vouchers.
	pub provider: AccountId,
	/// Everything the buyer has deposited since the channel opened (opening deposit plus top-ups).
	pub deposit: Balance,
	/// Everything paid to the provider so far: the `cumulative` of the last redeemed voucher.
	/// `deposit - paid` is what is still held from the buyer.
	pub paid: Balance,
	/// Nonce (number of requests covered) of the last redeemed voucher; 0 before the first.
	pub nonce: u64,
	/// Requests root of the last redeemed voucher; zero before the first.
	pub requests_root: H256,
	/// When the buyer asked to close: the first block at which the provider can no longer redeem
	/// and the rest can be refunded. `None` while the channel is open.
	pub closes_at: Option<BlockNumber>,
}

/// What the pallet keeps per buyer.
#[derive(
	Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo, Debug,
)]
#[scale_info(skip_type_params(MaxChannels))]
pub struct BuyerChannels<MaxChannels: Get<u32>> {
	/// How many channels the buyer has ever opened: the index in the next channel id.
	pub opened: u64,
	/// The buyer's channels that are open or in their challenge window.
	pub open: BoundedVec<H256, MaxChannels>,
}

impl<MaxChannels: Get<u32>> Default for BuyerChannels<MaxChannels> {
	fn default() -> Self {
		Self { opened: 0, open: BoundedVec::new() }
	}
}

/// How benchmarks get a key that can sign vouchers in the runtime being benchmarked.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper<AccountId, Signature> {
	/// A new account whose key is in the benchmark's keystore.
	fn signer() -> AccountId;
	/// `signer`'s signature of `message`.
	fn sign(signer: &AccountId, message: &[u8]) -> Signature;
}

/// Benchmark signer for chains whose accounts are `AccountId32` and whose signatures are
/// `MultiSignature`: an sr25519 key generated in the keystore.
#[cfg(feature = "runtime-benchmarks")]
pub struct Sr25519BenchmarkHelper;

#[cfg(feature = "runtime-benchmarks")]
impl
	BenchmarkHelper<polkadot_sdk::sp_runtime::AccountId32, polkadot_sdk::sp_runtime::MultiSignature>
	for Sr25519BenchmarkHelper
{
	fn signer() -> polkadot_sdk::sp_runtime::AccountId32 {
		let public = polkadot_sdk::sp_io::crypto::sr25519_generate(KEY_TYPE, None);
		public.0.into()
	}

	fn sign(
		signer: &polkadot_sdk::sp_runtime::AccountId32,
		message: &[u8],
	) -> polkadot_sdk::sp_runtime::MultiSignature {
		let public = polkadot_sdk::sp_core::sr25519::Public::from_raw(*signer.as_ref());
		polkadot_sdk::sp_io::crypto::sr25519_sign(KEY_TYPE, &public, message)
			.map(Into::into)
			.unwrap_or_else(|| {
				polkadot_sdk::sp_runtime::MultiSignature::Sr25519(
					polkadot_sdk::sp_core::sr25519::Signature::from_raw([0; 64]),
				)
			})
	}
}

/// Key type of the benchmark keystore keys.
#[cfg(feature = "runtime-benchmarks")]
const KEY_TYPE: polkadot_sdk::sp_core::crypto::KeyTypeId =
	polkadot_sdk::sp_core::crypto::KeyTypeId(*b"vchr");
