//! The server's view of its payment channels: what the chain says of each (deposit, what was
//! redeemed, whether it is closing) and what this provider served on it since (the request log,
//! the latest voucher). [`Book::check`] decides whether a voucher pays for a request — before any
//! compute — and [`Refusal`] says why not, with the HTTP status a client sees.

use polkadot_sdk::{
	sp_core::H256,
	sp_runtime::{AccountId32, MultiSignature},
};
use std::collections::HashMap;
use verity_primitives::{
	merkle::RequestLog,
	voucher::{verify_voucher, Voucher},
};

/// A channel as the chain stores it (the fields the server needs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnChain {
	/// Who signs vouchers.
	pub buyer: AccountId32,
	/// Who redeems them.
	pub provider: AccountId32,
	/// Everything deposited.
	pub deposit: u128,
	/// Everything redeemed.
	pub paid: u128,
	/// Nonce of the last redeemed voucher.
	pub nonce: u64,
	/// The end of the challenge window, once the buyer asked to close.
	pub closes_at: Option<u64>,
}

/// What this provider served on a channel.
#[derive(Clone, Debug, Default)]
pub struct Served {
	/// The hashes of the requests answered, in order.
	pub log: RequestLog,
	/// The latest voucher and its signature: what a redeem sends.
	pub latest: Option<(Voucher<u128>, MultiSignature)>,
}

impl Served {
	/// The cumulative amount of the latest voucher (0 before the first).
	pub fn cumulative(&self) -> u128 {
		self.latest.as_ref().map_or(0, |(v, _)| v.cumulative)
	}
}

/// One channel.
#[derive(Clone, Debug)]
pub struct Entry {
	/// The chain's view; `None`: no such channel, or closed.
	pub chain: Option<OnChain>,
	/// What was served.
	pub served: Served,
}

/// Why a request is not served. Each has an HTTP status and a machine-readable reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
	/// No voucher or signature header.
	#[error(
		"the request carries no voucher: send the `verity-voucher` and `verity-signature` headers"
	)]
	NoVoucher,
	/// A header that does not decode.
	#[error("malformed {0}")]
	MalformedVoucher(String),
	/// The channel is not open on chain.
	#[error("channel {0:?} is not open on chain (never opened, not final yet, or closed)")]
	UnknownChannel(H256),
	/// The channel pays another provider.
	#[error("channel {0:?} pays another provider")]
	NotOurs(H256),
	/// The buyer asked to close.
	#[error("channel {0:?} is closing: no new requests are served on it")]
	Closing(H256),
	/// A nonce already used.
	#[error("voucher nonce {got} is already used on this channel; the next is {expected}")]
	Replayed {
		/// The voucher's nonce.
		got: u64,
		/// The next nonce.
		expected: u64,
	},
	/// A nonce that skips requests.
	#[error("voucher nonce {got} skips requests; the next is {expected}")]
	NonceGap {
		/// The voucher's nonce.
		got: u64,
		/// The next nonce.
		expected: u64,
	},
	/// The root is not the log's root with this request appended.
	#[error("the voucher's requests root is not the root of the channel's requests with this one last (expected {expected:?})")]
	WrongRoot {
		/// The root that covers this request.
		expected: H256,
	},
	/// The increment is below the price.
	#[error("the voucher pays {paid} for this request; its price is {price} (cumulative must be at least {needed})")]
	Underpaid {
		/// What the voucher adds.
		paid: u128,
		/// The price.
		price: u128,
		/// The cumulative amount that pays for it.
		needed: u128,
	},
	/// The cumulative amount is above what the channel holds.
	#[error("the voucher's cumulative {cumulative} is above the channel's deposit {deposit}; top the channel up")]
	AboveDeposit {
		/// The voucher's amount.
		cumulative: u128,
		/// The deposit.
		deposit: u128,
	},
	/// The signature is not the buyer's over this voucher on this chain.
	#[error("the signature is not the channel buyer's signature of this voucher on this chain")]
	BadSignature,
	/// This provider's record of the channel starts after requests it has no log of.
	#[error("this server has no log of the channel's first {0} requests (redeemed elsewhere); open a new channel")]
	NoHistory(u64),
}

impl Refusal {
	/// The HTTP status.
	pub fn status(&self) -> u16 {
		match self {
			Refusal::NoVoucher | Refusal::Underpaid { .. } | Refusal::AboveDeposit { .. } => 402,
			Refusal::MalformedVoucher(_) => 400,
			Refusal::BadSignature => 401,
			Refusal::NotOurs(_) => 403,
			Refusal::UnknownChannel(_) => 404,
			Refusal::Closing(_)
			| Refusal::Replayed { .. }
			| Refusal::NonceGap { .. }
			| Refusal::WrongRoot { .. }
			| Refusal::NoHistory(_) => 409,
		}
	}

	/// The machine-readable reason.
	pub fn reason(&self) -> &'static str {
		match self {
			Refusal::NoVoucher => "no_voucher",
			Refusal::MalformedVoucher(_) => "malformed_voucher",
			Refusal::UnknownChannel(_) => "unknown_channel",
			Refusal::NotOurs(_) => "not_our_channel",
			Refusal::Closing(_) => "channel_closing",
			Refusal::Replayed { .. } => "replayed_nonce",
			Refusal::NonceGap { .. } => "nonce_gap",
			Refusal::WrongRoot { .. } => "wrong_root",
			Refusal::Underpaid { .. } => "underpaid",
			Refusal::AboveDeposit { .. } => "above_deposit",
			Refusal::BadSignature => "bad_signature",
			Refusal::NoHistory(_) => "no_history",
		}
	}
}

/// Checks that `voucher`, signed `signature`, pays `price` for request `request` on `entry`, a
/// channel of `me` on the chain with genesis `genesis`. Cheap checks first; the signature last.
pub fn check(
	me: &AccountId32,
	genesis: &H256,
	entry: &Entry,
	voucher: &Voucher<u128>,
	signature: &MultiSignature,
	request: &H256,
	price: u128,
) -> Result<(), Refusal> {
	let channel = voucher.channel;
	let Some(chain) = &entry.chain else { return Err(Refusal::UnknownChannel(channel)) };
	if &chain.provider != me {
		return Err(Refusal::NotOurs(channel));
	}
	if chain.closes_at.is_some() {
		return Err(Refusal::Closing(channel));
	}
	let served = &entry.served;
	if served.log.count() < chain.nonce {
		return Err(Refusal::NoHistory(chain.nonce));
	}
	let expected = served.log.count().saturating_add(1);
	if voucher.nonce < expected {
		return Err(Refusal::Replayed { got: voucher.nonce, expected });
	}
	if voucher.nonce > expected {
		return Err(Refusal::NonceGap { got: voucher.nonce, expected });
	}
	let mut log = served.log.clone();
	log.push(request);
	if voucher.requests_root != log.root() {
		return Err(Refusal::WrongRoot { expected: log.root() });
	}
	let before = served.cumulative().max(chain.paid);
	let needed = before.saturating_add(price);
	if voucher.cumulative < needed {
		return Err(Refusal::Underpaid {
			paid: voucher.cumulative.saturating_sub(before),
			price,
			needed,
		});
	}
	if voucher.cumulative > chain.deposit {
		return Err(Refusal::AboveDeposit {
			cumulative: voucher.cumulative,
			deposit: chain.deposit,
		});
	}
	if !verify_voucher(genesis, voucher, signature, &chain.buyer) {
		return Err(Refusal::BadSignature);
	}
	Ok(())
}

/// Every channel the server knows, by id.
pub type Channels = HashMap<H256, Entry>;

#[cfg(test)]
mod tests {
	use super::*;
	use polkadot_sdk::sp_core::{sr25519, Pair};
	use verity_primitives::voucher::sign::sign_voucher;

	struct Fixture {
		buyer: sr25519::Pair,
		me: AccountId32,
		genesis: H256,
		entry: Entry,
	}

	fn fixture() -> Fixture {
		let buyer = sr25519::Pair::from_string("//Alice", None).unwrap();
		let me = AccountId32::from(sr25519::Pair::from_string("//Bob", None).unwrap().public().0);
		let chain = OnChain {
			buyer: AccountId32::from(buyer.public().0),
			provider: me.clone(),
			deposit: 100,
			paid: 0,
			nonce: 0,
			closes_at: None,
		};
		let entry = Entry { chain: Some(chain), served: Served::default() };
		Fixture { buyer, me, genesis: H256::repeat_byte(7), entry }
	}

	fn voucher(f: &Fixture, request: &H256, cumulative: u128) -> Voucher<u128> {
		let mut log = f.entry.served.log.clone();
		log.push(request);
		Voucher {
			channel: H256::repeat_byte(1),
			cumulative,
			nonce: log.count(),
			requests_root: log.root(),
		}
	}

	fn run(f: &Fixture, v: &Voucher<u128>, r: &H256, price: u128) -> Result<(), Refusal> {
		let sig = sign_voucher(&f.buyer, &f.genesis, v);
		check(&f.me, &f.genesis, &f.entry, v, &sig, r, price)
	}

	#[test]
	fn a_voucher_for_the_next_request_at_its_price_is_accepted() {
		let f = fixture();
		let r = H256::repeat_byte(5);
		assert_eq!(run(&f, &voucher(&f, &r, 10), &r, 10), Ok(()));
	}

	#[test]
	fn every_wrong_voucher_is_refused_with_its_reason() {
		let mut f = fixture();
		let r = H256::repeat_byte(5);
		let under = run(&f, &voucher(&f, &r, 9), &r, 10).unwrap_err();
		assert_eq!((under.status(), under.reason()), (402, "underpaid"));
		let above = run(&f, &voucher(&f, &r, 101), &r, 10).unwrap_err();
		assert_eq!((above.status(), above.reason()), (402, "above_deposit"));
		let mut v = voucher(&f, &r, 10);
		v.nonce = 2;
		assert_eq!(run(&f, &v, &r, 10).unwrap_err().reason(), "nonce_gap");
		let other = voucher(&f, &H256::repeat_byte(6), 10);
		assert_eq!(run(&f, &other, &r, 10).unwrap_err().reason(), "wrong_root");
		// Signed on another chain.
		let v = voucher(&f, &r, 10);
		let sig = sign_voucher(&f.buyer, &H256::repeat_byte(8), &v);
		let forged = check(&f.me, &f.genesis, &f.entry, &v, &sig, &r, 10).unwrap_err();
		assert_eq!((forged.status(), forged.reason()), (401, "bad_signature"));
		// Served once: the same nonce again is a replay.
		f.entry.served.log.push(&r);
		f.entry.served.latest = Some((v.clone(), sig));
		assert_eq!(run(&f, &v, &r, 10).unwrap_err().reason(), "replayed_nonce");
		// Closing.
		f.entry.chain.as_mut().unwrap().closes_at = Some(50);
		let next = voucher(&f, &H256::repeat_byte(6), 20);
		assert_eq!(
			run(&f, &next, &H256::repeat_byte(6), 10).unwrap_err().reason(),
			"channel_closing"
		);
		f.entry.chain = None;
		assert_eq!(run(&f, &next, &H256::repeat_byte(6), 10).unwrap_err().status(), 404);
	}
}
