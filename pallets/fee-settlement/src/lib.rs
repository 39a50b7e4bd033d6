//! # Fee settlement: payment channels for pay-per-request inference
//!
//! A buyer who calls a provider's model online does not pay per request on chain. It opens a
//! **channel** to the provider with a deposit (held with a `fungible` hold), and with every request
//! signs a **voucher** off chain: the channel, the *cumulative* amount owed so far, a nonce (the
//! number of requests covered) and the Merkle root of the request hashes. The provider keeps only
//! the latest voucher and [`redeem`](Pallet::redeem)s it: the pallet checks one signature and pays
//! the difference between the voucher's cumulative amount and what was already paid. One call
//! settles any number of requests, at a weight that does not depend on how many;
//! [`redeem_batch`](Pallet::redeem_batch) settles many channels with a weight linear in channels.
//!
//! The exact bytes signed, the `<Bytes>` wrapping wallets add, and the request Merkle tree are
//! defined once in [`verity_primitives::voucher`], which the worker uses too; `tests/vectors/`
//! holds vouchers signed by polkadot.js that the pallet's tests verify.
//!
//! ## Lifecycle
//!
//! 1. [`open_channel`](Pallet::open_channel) (buyer): holds the deposit; the channel id is
//!    [`channel_id`](verity_primitives::voucher::channel_id)`(buyer, provider, n)` where `n` counts
//!    the buyer's channels ever opened, so ids are deterministic and never reused.
//! 2. [`top_up`](Pallet::top_up) (buyer): holds more.
//! 3. [`redeem`](Pallet::redeem) / [`redeem_batch`](Pallet::redeem_batch) (provider): pays
//!    `cumulative - paid` from the hold. A voucher whose nonce is not above the last redeemed one is
//!    stale; a cumulative amount above the deposit or below what was paid is rejected.
//! 4. [`request_close`](Pallet::request_close) (buyer): starts the challenge window
//!    ([`ChallengePeriod`], set by [`Config::AdminOrigin`] between [`Config::MinChallengePeriod`]
//!    and [`Config::MaxChallengePeriod`]); the provider can still redeem until it ends. [`finalize_close`](Pallet::finalize_close) (anyone) then refunds the rest to the buyer.
//! 5. [`close_by_provider`](Pallet::close_by_provider): the provider gives up the channel at once;
//!    the rest is refunded immediately.
//!
//! ## What the requests root proves
//!
//! By signing a voucher the buyer states which requests it pays for; by redeeming it the provider
//! accepts payment for exactly those. The chain keeps the last redeemed root and its leaf count
//! (the nonce), and [`prove_request`](Pallet::prove_request) checks a Merkle proof that a request
//! hash is in it and records the fact in a `RequestProven` event: an on-chain receipt, usable while
//! the channel is open or in its challenge window, that the provider was paid for that request
//! (for example to claim a response that was owed). Slashing an unanswered claim needs the
//! provider stake of staking-governance and is not done here.
//!
//! ## Example
//!
//! From `tests::redeem_twice_pays_only_the_difference`:
//!
//! ```ignore
//! let channel = open(BUYER, PROVIDER, 100);
//! let v = voucher(channel, 30, 3);
//! assert_ok!(FeeSettlement::redeem(RuntimeOrigin::signed(provider()), v.clone(), sign(&v)));
//! let v = voucher(channel, 75, 10);
//! assert_ok!(FeeSettlement::redeem(RuntimeOrigin::signed(provider()), v.clone(), sign(&v)));
//! // The provider got 30 + 45; 25 is still held from the buyer.
//! ```

#![cfg_attr(not(feature = "std"), no_std)]
// The logic (impls.rs, types.rs) denies unwrap/expect/indexing/arithmetic side effects; this file
// only declares, and the pallet macros' own expansion uses `expect` in metadata code.

extern crate alloc;

pub use pallet::*;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
mod impls;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod types;
pub mod weights;

pub use types::*;
pub use weights::WeightInfo;

#[polkadot_sdk::frame_support::pallet]
pub mod pallet {
	use super::*;
	use polkadot_sdk::{
		frame_support::{
			pallet_prelude::*,
			traits::fungible::{InspectHold, Mutate, MutateHold},
		},
		frame_system::pallet_prelude::*,
		sp_core::H256,
		sp_runtime::traits::{IdentifyAccount, StaticLookup, Verify, Zero},
	};

	/// The in-code storage version.
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(0);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	/// Why the pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// The unpaid part of a payment channel's deposit.
		#[codec(index = 0)]
		ChannelDeposit,
	}

	#[pallet::config]
	pub trait Config: polkadot_sdk::frame_system::Config<RuntimeEvent: From<Event<Self>>> {
		/// The currency deposits are held in and providers are paid in.
		type Currency: MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
			+ InspectHold<Self::AccountId>
			+ Mutate<Self::AccountId>;

		/// The overarching hold reason.
		type RuntimeHoldReason: From<HoldReason>;

		/// Signature buyers sign vouchers with; its signer identifies the buyer's account.
		type Signature: Verify<Signer: IdentifyAccount<AccountId = Self::AccountId>>
			+ Parameter
			+ MaxEncodedLen
			+ DecodeWithMemTracking;

		/// Who may change the challenge period (governance: Root in the runtime).
		type AdminOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// Smallest opening deposit: a channel costs storage, and a channel too small to pay for a
		/// request is spam.
		#[pallet::constant]
		type MinDeposit: Get<BalanceOf<Self>>;

		/// Most channels one buyer can have open at once: bounds the buyer's channel list, which
		/// opening and closing rewrite.
		#[pallet::constant]
		type MaxChannelsPerBuyer: Get<u32>;

		/// Most vouchers in one `redeem_batch`: bounds the call's weight and size.
		#[pallet::constant]
		type MaxBatch: Get<u32>;

		/// Most sibling hashes in a request proof: a tree of depth 32 covers 2^32 requests.
		#[pallet::constant]
		type MaxProofDepth: Get<u32>;

		/// Challenge period until governance sets one.
		#[pallet::constant]
		type DefaultChallengePeriod: Get<BlockNumberFor<Self>>;

		/// Shortest challenge period governance may set: a provider must have time to see a
		/// close request and redeem what it is owed before the buyer's refund.
		#[pallet::constant]
		type MinChallengePeriod: Get<BlockNumberFor<Self>>;

		/// Longest challenge period governance may set: buyers' refunds must not be locked forever.
		#[pallet::constant]
		type MaxChallengePeriod: Get<BlockNumberFor<Self>>;

		/// Weights of the calls, from this pallet's benchmarks.
		type WeightInfo: WeightInfo;

		/// Signs vouchers in benchmarks.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: BenchmarkHelper<Self::AccountId, Self::Signature>;
	}

	/// Open channels (including those in their challenge window) by id.
	// Hasher: the id is a blake2-256 output, but of inputs the buyer chooses (any provider
	// account), so it could grind ids into long shared key prefixes that deepen the trie and make
	// every read dearer; the key is hashed again (security review, finding 17).
	#[pallet::storage]
	pub type Channels<T: Config> = StorageMap<_, Blake2_128Concat, H256, ChannelOf<T>, OptionQuery>;

	/// Per buyer: channels ever opened and the ids of those still open.
	// Hasher: buyers choose their accounts, so the key is hashed.
	#[pallet::storage]
	pub type Buyers<T: Config> = StorageMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		BuyerChannels<T::MaxChannelsPerBuyer>,
		ValueQuery,
	>;

	/// Blocks between a buyer's close request and its refund, during which the provider can still
	/// redeem. Set by governance through `set_challenge_period`.
	#[pallet::storage]
	pub type ChallengePeriod<T: Config> =
		StorageValue<_, BlockNumberFor<T>, ValueQuery, T::DefaultChallengePeriod>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A buyer opened a channel to a provider.
		ChannelOpened {
			/// The new channel's id.
			channel: H256,
			/// Who deposited.
			buyer: T::AccountId,
			/// Who may redeem.
			provider: T::AccountId,
			/// The deposit held.
			deposit: BalanceOf<T>,
		},
		/// A buyer added to a channel's deposit.
		ChannelToppedUp {
			/// The channel.
			channel: H256,
			/// What was added.
			amount: BalanceOf<T>,
			/// The channel's deposit now.
			deposit: BalanceOf<T>,
		},
		/// A provider redeemed a voucher.
		VoucherRedeemed {
			/// The channel.
			channel: H256,
			/// Who was paid.
			provider: T::AccountId,
			/// The voucher's nonce: requests covered so far.
			nonce: u64,
			/// The voucher's cumulative amount: everything paid on the channel so far.
			cumulative: BalanceOf<T>,
			/// What this redeem paid (cumulative minus what was paid before).
			amount: BalanceOf<T>,
		},
		/// A buyer asked to close a channel; the provider can redeem until `closes_at`.
		CloseRequested {
			/// The channel.
			channel: H256,
			/// First block at which the rest can be refunded.
			closes_at: BlockNumberFor<T>,
		},
		/// A channel closed and the unpaid deposit went back to the buyer.
		ChannelClosed {
			/// The channel.
			channel: H256,
			/// Everything the provider was paid over the channel's life.
			paid: BalanceOf<T>,
			/// What went back to the buyer.
			refunded: BalanceOf<T>,
		},
		/// A Merkle proof showed that a request is among those the provider was paid for.
		RequestProven {
			/// The channel.
			channel: H256,
			/// The request hash.
			request: H256,
			/// Its position among the channel's requests.
			index: u64,
			/// Nonce of the redeemed voucher whose root contains it.
			nonce: u64,
		},
		/// Governance changed the challenge period.
		ChallengePeriodSet {
			/// The new period in blocks.
			period: BlockNumberFor<T>,
		},
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The deposit is below `MinDeposit`; deposit more.
		DepositTooLow,
		/// A buyer cannot open a channel to itself.
		SelfChannel,
		/// The buyer already has `MaxChannelsPerBuyer` open channels; close one first.
		TooManyChannels,
		/// No open channel has this id (never opened, or already closed).
		UnknownChannel,
		/// Only the channel's buyer can do this.
		NotBuyer,
		/// Only the channel's provider can do this.
		NotProvider,
		/// A top-up must add something.
		ZeroAmount,
		/// The channel is closing: no top-ups, and no second close request.
		ChannelClosing,
		/// The voucher's nonce is not above the last redeemed one: it is old or a replay.
		StaleVoucher,
		/// The voucher's cumulative amount is below what was already paid.
		CumulativeDecreased,
		/// The voucher's cumulative amount is above the channel's deposit.
		CumulativeAboveDeposit,
		/// The signature is not the buyer's signature of this voucher on this chain.
		InvalidSignature,
		/// The challenge window is over; the channel can only be finalised.
		ChallengeOver,
		/// The channel is not closing, or its challenge window has not ended yet.
		ChallengeNotOver,
		/// `redeem_batch` needs at least one voucher.
		EmptyBatch,
		/// Nothing was redeemed on the channel yet, so there is no root to prove against.
		NothingRedeemed,
		/// The proof does not show the request in the channel's last redeemed root.
		InvalidProof,
		/// The challenge period is above `MaxChallengePeriod`.
		ChallengePeriodTooLong,
		/// The challenge period is below `MinChallengePeriod`.
		ChallengePeriodTooShort,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn integrity_test() {
			assert!(T::MaxChannelsPerBuyer::get() > 0, "MaxChannelsPerBuyer must be positive");
			assert!(T::MaxBatch::get() > 0, "MaxBatch must be positive");
			assert!(
				(1..=64).contains(&T::MaxProofDepth::get()),
				"MaxProofDepth must be between 1 and 64 (u64 leaf counts)"
			);
			assert!(!T::MinDeposit::get().is_zero(), "MinDeposit must be positive");
			assert!(
				T::MinChallengePeriod::get() <= T::DefaultChallengePeriod::get()
					&& T::DefaultChallengePeriod::get() <= T::MaxChallengePeriod::get(),
				"DefaultChallengePeriod must lie between MinChallengePeriod and MaxChallengePeriod"
			);
			assert!(!T::MinChallengePeriod::get().is_zero(), "MinChallengePeriod must be positive");
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(
			_n: BlockNumberFor<T>,
		) -> Result<(), polkadot_sdk::sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Open a payment channel to `provider` holding `deposit` from the caller.
		///
		/// - Origin: signed, the buyer.
		/// - Errors: `DepositTooLow`, `SelfChannel`, `TooManyChannels`; a token error if the
		///   deposit cannot be held.
		/// - Events: `ChannelOpened`.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::open_channel())]
		pub fn open_channel(
			origin: OriginFor<T>,
			provider: AccountIdLookupOf<T>,
			deposit: BalanceOf<T>,
		) -> DispatchResult {
			let buyer = ensure_signed(origin)?;
			let provider = T::Lookup::lookup(provider)?;
			Self::do_open_channel(buyer, provider, deposit)
		}

		/// Add `amount` to an open channel's deposit.
		///
		/// - Origin: signed, the channel's buyer.
		/// - Errors: `UnknownChannel`, `NotBuyer`, `ZeroAmount`, `ChannelClosing`; a token error
		///   if the amount cannot be held.
		/// - Events: `ChannelToppedUp`.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::top_up())]
		pub fn top_up(origin: OriginFor<T>, channel: H256, amount: BalanceOf<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_top_up(who, channel, amount)
		}

		/// Redeem the buyer's latest voucher: pays `voucher.cumulative` minus what was already
		/// paid. Costs the same whatever the number of requests the voucher covers.
		///
		/// - Origin: signed, the channel's provider.
		/// - Errors: `UnknownChannel`, `NotProvider`, `ChallengeOver`, `StaleVoucher`,
		///   `CumulativeDecreased`, `CumulativeAboveDeposit`, `InvalidSignature`.
		/// - Events: `VoucherRedeemed`.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::redeem())]
		pub fn redeem(
			origin: OriginFor<T>,
			voucher: VoucherOf<T>,
			signature: T::Signature,
		) -> DispatchResult {
			let provider = ensure_signed(origin)?;
			Self::do_redeem(&provider, voucher, &signature)
		}

		/// Redeem vouchers of several channels at once, all or nothing: if any voucher fails, the
		/// call fails with that voucher's error and nothing is paid.
		///
		/// - Origin: signed, the provider of every channel.
		/// - Errors: `EmptyBatch`, and those of `redeem`.
		/// - Events: `VoucherRedeemed` per voucher.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::redeem_batch(vouchers.len() as u32))]
		pub fn redeem_batch(
			origin: OriginFor<T>,
			vouchers: BoundedVec<SignedVoucherOf<T>, T::MaxBatch>,
		) -> DispatchResult {
			let provider = ensure_signed(origin)?;
			ensure!(!vouchers.is_empty(), Error::<T>::EmptyBatch);
			polkadot_sdk::frame_support::storage::with_storage_layer(|| {
				vouchers.into_iter().try_for_each(|(voucher, signature)| {
					Self::do_redeem(&provider, voucher, &signature)
				})
			})
		}

		/// Start closing a channel: after `ChallengePeriod` blocks the rest of the deposit can be
		/// refunded; until then the provider can still redeem.
		///
		/// - Origin: signed, the channel's buyer.
		/// - Errors: `UnknownChannel`, `NotBuyer`, `ChannelClosing`.
		/// - Events: `CloseRequested`.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::request_close())]
		pub fn request_close(origin: OriginFor<T>, channel: H256) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_request_close(who, channel)
		}

		/// Close a channel whose challenge window has ended, refunding the rest to its buyer.
		///
		/// - Origin: signed, anyone (the refund always goes to the buyer).
		/// - Errors: `UnknownChannel`, `ChallengeNotOver`.
		/// - Events: `ChannelClosed`.
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::finalize_close())]
		pub fn finalize_close(origin: OriginFor<T>, channel: H256) -> DispatchResult {
			ensure_signed(origin)?;
			Self::do_finalize_close(channel)
		}

		/// The provider closes a channel at once; the rest is refunded to the buyer now. Redeem
		/// the latest voucher first (in the same `utility.batchAll` if need be).
		///
		/// - Origin: signed, the channel's provider.
		/// - Errors: `UnknownChannel`, `NotProvider`.
		/// - Events: `ChannelClosed`.
		#[pallet::call_index(6)]
		#[pallet::weight(T::WeightInfo::close_by_provider())]
		pub fn close_by_provider(origin: OriginFor<T>, channel: H256) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_close_by_provider(who, channel)
		}

		/// Prove that `request` is the `index`-th request covered by the channel's last redeemed
		/// voucher, i.e. that the provider was paid for it.
		///
		/// - Origin: signed, anyone.
		/// - Errors: `UnknownChannel`, `NothingRedeemed`, `InvalidProof`.
		/// - Events: `RequestProven`.
		#[pallet::call_index(7)]
		#[pallet::weight(T::WeightInfo::prove_request(proof.len() as u32))]
		pub fn prove_request(
			origin: OriginFor<T>,
			channel: H256,
			request: H256,
			index: u64,
			proof: BoundedVec<H256, T::MaxProofDepth>,
		) -> DispatchResult {
			ensure_signed(origin)?;
			Self::do_prove_request(channel, request, index, &proof)
		}

		/// Set the challenge period for close requests made from now on.
		///
		/// - Origin: `AdminOrigin` (governance).
		/// - Errors: `ChallengePeriodTooShort`, `ChallengePeriodTooLong`.
		/// - Events: `ChallengePeriodSet`.
		#[pallet::call_index(8)]
		#[pallet::weight(T::WeightInfo::set_challenge_period())]
		pub fn set_challenge_period(
			origin: OriginFor<T>,
			period: BlockNumberFor<T>,
		) -> DispatchResult {
			T::AdminOrigin::ensure_origin(origin)?;
			// Without a floor a buyer could request and finalise a close in one block, before
			// the provider redeems what it is owed (security review, finding 18).
			ensure!(period >= T::MinChallengePeriod::get(), Error::<T>::ChallengePeriodTooShort);
			ensure!(period <= T::MaxChallengePeriod::get(), Error::<T>::ChallengePeriodTooLong);
			ChallengePeriod::<T>::put(period);
			Self::deposit_event(Event::ChallengePeriodSet { period });
			Ok(())
		}
	}

	/// The lookup type of the runtime.
	pub type AccountIdLookupOf<T> =
		<<T as polkadot_sdk::frame_system::Config>::Lookup as StaticLookup>::Source;
}
