//! The logic behind the calls. Every function checks all its preconditions before it writes.

#![cfg_attr(
	not(test),
	deny(
		clippy::unwrap_used,
		clippy::expect_used,
		clippy::indexing_slicing,
		clippy::arithmetic_side_effects
	)
)]

use polkadot_sdk::{
	frame_support::{
		ensure,
		pallet_prelude::*,
		traits::{
			fungible::MutateHold,
			tokens::{Fortitude, Precision, Restriction},
		},
	},
	frame_system::{self, pallet_prelude::BlockNumberFor},
	sp_core::H256,
	sp_runtime::{
		traits::{CheckedAdd, CheckedSub, Zero},
		ArithmeticError,
	},
};
use verity_primitives::{
	merkle::verify_merkle_proof,
	voucher::{channel_id, verify_voucher},
};

use crate::{
	pallet::{Buyers, ChallengePeriod, Channels, Config, Error, Event, HoldReason, Pallet},
	types::{BalanceOf, Channel, ChannelOf, VoucherOf},
};

impl<T: Config> Pallet<T> {
	/// The hash of block 0, which every voucher is bound to.
	pub fn genesis_hash() -> T::Hash {
		frame_system::Pallet::<T>::block_hash(BlockNumberFor::<T>::zero())
	}

	/// The held amount of a channel: deposit minus what was paid.
	fn unpaid(channel: &ChannelOf<T>) -> Result<BalanceOf<T>, DispatchError> {
		channel.deposit.checked_sub(&channel.paid).ok_or(ArithmeticError::Underflow.into())
	}

	pub(crate) fn do_open_channel(
		buyer: T::AccountId,
		provider: T::AccountId,
		deposit: BalanceOf<T>,
	) -> DispatchResult {
		ensure!(deposit >= T::MinDeposit::get(), Error::<T>::DepositTooLow);
		ensure!(buyer != provider, Error::<T>::SelfChannel);
		let mut channels = Buyers::<T>::get(&buyer);
		let id = channel_id(&buyer, &provider, channels.opened);
		channels.open.try_push(id).map_err(|_| Error::<T>::TooManyChannels)?;
		channels.opened = channels.opened.checked_add(1).ok_or(ArithmeticError::Overflow)?;

		T::Currency::hold(&HoldReason::ChannelDeposit.into(), &buyer, deposit)?;
		Buyers::<T>::insert(&buyer, channels);
		Channels::<T>::insert(
			id,
			Channel {
				buyer: buyer.clone(),
				provider: provider.clone(),
				deposit,
				paid: Zero::zero(),
				nonce: 0,
				requests_root: H256::zero(),
				closes_at: None,
			},
		);
		Self::deposit_event(Event::ChannelOpened { channel: id, buyer, provider, deposit });
		Ok(())
	}

	pub(crate) fn do_top_up(who: T::AccountId, id: H256, amount: BalanceOf<T>) -> DispatchResult {
		let mut channel = Channels::<T>::get(id).ok_or(Error::<T>::UnknownChannel)?;
		ensure!(channel.buyer == who, Error::<T>::NotBuyer);
		ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
		ensure!(channel.closes_at.is_none(), Error::<T>::ChannelClosing);
		channel.deposit = channel.deposit.checked_add(&amount).ok_or(ArithmeticError::Overflow)?;

		T::Currency::hold(&HoldReason::ChannelDeposit.into(), &who, amount)?;
		let deposit = channel.deposit;
		Channels::<T>::insert(id, channel);
		Self::deposit_event(Event::ChannelToppedUp { channel: id, amount, deposit });
		Ok(())
	}

	pub(crate) fn do_redeem(
		provider: &T::AccountId,
		voucher: VoucherOf<T>,
		signature: &T::Signature,
	) -> DispatchResult {
		let id = voucher.channel;
		let mut channel = Channels::<T>::get(id).ok_or(Error::<T>::UnknownChannel)?;
		ensure!(channel.provider == *provider, Error::<T>::NotProvider);
		if let Some(closes_at) = channel.closes_at {
			ensure!(
				frame_system::Pallet::<T>::block_number() < closes_at,
				Error::<T>::ChallengeOver
			);
		}
		ensure!(voucher.nonce > channel.nonce, Error::<T>::StaleVoucher);
		let amount =
			voucher.cumulative.checked_sub(&channel.paid).ok_or(Error::<T>::CumulativeDecreased)?;
		ensure!(voucher.cumulative <= channel.deposit, Error::<T>::CumulativeAboveDeposit);
		ensure!(
			verify_voucher(&Self::genesis_hash(), &voucher, signature, &channel.buyer),
			Error::<T>::InvalidSignature
		);

		if !amount.is_zero() {
			T::Currency::transfer_on_hold(
				&HoldReason::ChannelDeposit.into(),
				&channel.buyer,
				provider,
				amount,
				Precision::Exact,
				Restriction::Free,
				Fortitude::Polite,
			)?;
		}
		channel.paid = voucher.cumulative;
		channel.nonce = voucher.nonce;
		channel.requests_root = voucher.requests_root;
		Channels::<T>::insert(id, channel);
		Self::deposit_event(Event::VoucherRedeemed {
			channel: id,
			provider: provider.clone(),
			nonce: voucher.nonce,
			cumulative: voucher.cumulative,
			amount,
		});
		Ok(())
	}

	pub(crate) fn do_request_close(who: T::AccountId, id: H256) -> DispatchResult {
		let mut channel = Channels::<T>::get(id).ok_or(Error::<T>::UnknownChannel)?;
		ensure!(channel.buyer == who, Error::<T>::NotBuyer);
		ensure!(channel.closes_at.is_none(), Error::<T>::ChannelClosing);
		let closes_at = frame_system::Pallet::<T>::block_number()
			.checked_add(&ChallengePeriod::<T>::get())
			.ok_or(ArithmeticError::Overflow)?;
		channel.closes_at = Some(closes_at);
		Channels::<T>::insert(id, channel);
		Self::deposit_event(Event::CloseRequested { channel: id, closes_at });
		Ok(())
	}

	pub(crate) fn do_finalize_close(id: H256) -> DispatchResult {
		let channel = Channels::<T>::get(id).ok_or(Error::<T>::UnknownChannel)?;
		let over = channel
			.closes_at
			.is_some_and(|closes_at| frame_system::Pallet::<T>::block_number() >= closes_at);
		ensure!(over, Error::<T>::ChallengeNotOver);
		Self::close(id, channel)
	}

	pub(crate) fn do_close_by_provider(who: T::AccountId, id: H256) -> DispatchResult {
		let channel = Channels::<T>::get(id).ok_or(Error::<T>::UnknownChannel)?;
		ensure!(channel.provider == who, Error::<T>::NotProvider);
		Self::close(id, channel)
	}

	/// Refund the unpaid deposit and forget the channel.
	fn close(id: H256, channel: ChannelOf<T>) -> DispatchResult {
		let refund = Self::unpaid(&channel)?;
		let mut channels = Buyers::<T>::get(&channel.buyer);
		channels.open.retain(|open| *open != id);

		if !refund.is_zero() {
			T::Currency::release(
				&HoldReason::ChannelDeposit.into(),
				&channel.buyer,
				refund,
				Precision::Exact,
			)?;
		}
		Buyers::<T>::insert(&channel.buyer, channels);
		Channels::<T>::remove(id);
		Self::deposit_event(Event::ChannelClosed {
			channel: id,
			paid: channel.paid,
			refunded: refund,
		});
		Ok(())
	}

	pub(crate) fn do_prove_request(
		id: H256,
		request: H256,
		index: u64,
		proof: &[H256],
	) -> DispatchResult {
		let channel = Channels::<T>::get(id).ok_or(Error::<T>::UnknownChannel)?;
		ensure!(channel.nonce > 0, Error::<T>::NothingRedeemed);
		ensure!(
			verify_merkle_proof(&channel.requests_root, channel.nonce, index, &request, proof),
			Error::<T>::InvalidProof
		);
		Self::deposit_event(Event::RequestProven {
			channel: id,
			request,
			index,
			nonce: channel.nonce,
		});
		Ok(())
	}

	/// Storage invariants: every held deposit is accounted for by the buyer's open channels, and
	/// every open channel is listed under its buyer.
	#[cfg(any(feature = "try-runtime", feature = "std", test))]
	pub fn do_try_state() -> Result<(), polkadot_sdk::sp_runtime::TryRuntimeError> {
		use polkadot_sdk::frame_support::traits::fungible::InspectHold;
		let mut listed = 0usize;
		for (buyer, channels) in Buyers::<T>::iter() {
			let mut unpaid = BalanceOf::<T>::zero();
			for id in channels.open.iter() {
				let channel = Channels::<T>::get(id).ok_or("listed channel does not exist")?;
				ensure!(channel.buyer == buyer, "channel listed under another buyer");
				ensure!(channel.paid <= channel.deposit, "paid above deposit");
				ensure!(channel.nonce > 0 || channel.paid.is_zero(), "paid without a voucher");
				unpaid = unpaid.checked_add(&Self::unpaid(&channel)?).ok_or("held overflow")?;
				listed = listed.checked_add(1).ok_or("count overflow")?;
			}
			ensure!(
				T::Currency::balance_on_hold(&HoldReason::ChannelDeposit.into(), &buyer) == unpaid,
				"held deposit differs from the unpaid deposits of the buyer's channels"
			);
			ensure!(channels.opened >= channels.open.len() as u64, "more open than ever opened");
		}
		ensure!(Channels::<T>::iter_keys().count() == listed, "channel not listed under its buyer");
		Ok(())
	}
}
