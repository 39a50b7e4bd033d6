//! Unit tests on the mock runtime. Each runs the pallet's `try_state` after it.

use crate::{mock::*, pallet::*, types::*};
use polkadot_sdk::{
	frame_support::{
		assert_noop, assert_ok,
		traits::fungible::{InspectHold, Mutate},
		BoundedVec,
	},
	sp_core::{ed25519, sr25519, Pair, H256},
	sp_runtime::{traits::IdentifyAccount, DispatchError, MultiSignature, MultiSigner, TokenError},
};
use verity_primitives::{
	merkle::{merkle_proof, merkle_root},
	voucher::{channel_id, sign::sign_voucher, signing_payload, wrap_bytes},
};

const BUYER: &str = "Alice";
const PROVIDER: &str = "Bob";

fn signed(name: &str) -> RuntimeOrigin {
	RuntimeOrigin::signed(account(name))
}

fn held(name: &str) -> Balance {
	Balances::balance_on_hold(&HoldReason::ChannelDeposit.into(), &account(name))
}

fn free(name: &str) -> Balance {
	Balances::free_balance(account(name))
}

/// Opens a channel from `buyer` to `provider` and returns its id.
fn open(buyer: &str, provider: &str, deposit: Balance) -> H256 {
	let index = Buyers::<Test>::get(account(buyer)).opened;
	assert_ok!(FeeSettlement::open_channel(signed(buyer), account(provider), deposit));
	channel_id(&account(buyer), &account(provider), index)
}

/// The hashes of requests `0..n`.
fn requests(n: u64) -> Vec<H256> {
	(0..n).map(|i| H256(polkadot_sdk::sp_io::hashing::blake2_256(&i.to_le_bytes()))).collect()
}

fn voucher(channel: H256, cumulative: Balance, nonce: u64) -> Voucher<Balance> {
	Voucher { channel, cumulative, nonce, requests_root: merkle_root(&requests(nonce)) }
}

/// The buyer's (Alice's) sr25519 signature of `v` on the mock chain.
fn sign(v: &Voucher<Balance>) -> MultiSignature {
	sign_voucher(&pair(BUYER), &GENESIS, v)
}

fn redeem(v: &Voucher<Balance>) -> Result<(), polkadot_sdk::sp_runtime::DispatchError> {
	FeeSettlement::redeem(signed(PROVIDER), v.clone(), sign(v))
}

fn last_event() -> Event<Test> {
	System::events()
		.into_iter()
		.rev()
		.find_map(|r| match r.event {
			RuntimeEvent::FeeSettlement(e) => Some(e),
			_ => None,
		})
		.unwrap()
}

// ---- open ----

#[test]
fn open_channel_works() {
	build_and_execute(|| {
		let channel = open(BUYER, PROVIDER, 100);
		System::assert_last_event(
			Event::ChannelOpened {
				channel,
				buyer: account(BUYER),
				provider: account(PROVIDER),
				deposit: 100,
			}
			.into(),
		);
		assert_eq!(held(BUYER), 100);
		assert_eq!(free(BUYER), INITIAL - 100);
		let stored = Channels::<Test>::get(channel).unwrap();
		assert_eq!(
			(stored.deposit, stored.paid, stored.nonce, stored.closes_at),
			(100, 0, 0, None)
		);
		assert_eq!(Buyers::<Test>::get(account(BUYER)).open.into_inner(), vec![channel]);
	});
}

#[test]
fn channel_ids_are_deterministic_and_never_reused() {
	build_and_execute(|| {
		let first = open(BUYER, PROVIDER, 10);
		let second = open(BUYER, PROVIDER, 10);
		assert_ne!(first, second);
		assert_eq!(first, channel_id(&account(BUYER), &account(PROVIDER), 0));
		assert_ok!(FeeSettlement::close_by_provider(signed(PROVIDER), first));
		let third = open(BUYER, PROVIDER, 10);
		assert_eq!(third, channel_id(&account(BUYER), &account(PROVIDER), 2));
		assert!(third != first && third != second);
	});
}

#[test]
fn open_channel_fails_with_zero_or_small_deposit() {
	build_and_execute(|| {
		for deposit in [0, 9] {
			assert_noop!(
				FeeSettlement::open_channel(signed(BUYER), account(PROVIDER), deposit),
				Error::<Test>::DepositTooLow
			);
		}
	});
}

#[test]
fn open_channel_fails_to_self() {
	build_and_execute(|| {
		assert_noop!(
			FeeSettlement::open_channel(signed(BUYER), account(BUYER), 100),
			Error::<Test>::SelfChannel
		);
	});
}

#[test]
fn open_channel_fails_beyond_the_channel_bound() {
	build_and_execute(|| {
		for _ in 0..MaxChannelsPerBuyer::get() {
			open(BUYER, PROVIDER, 10);
		}
		assert_noop!(
			FeeSettlement::open_channel(signed(BUYER), account("Charlie"), 10),
			Error::<Test>::TooManyChannels
		);
	});
}

#[test]
fn open_channel_fails_if_deposit_is_not_free() {
	build_and_execute(|| {
		assert_noop!(
			FeeSettlement::open_channel(signed(BUYER), account(PROVIDER), INITIAL + 1),
			DispatchError::Token(TokenError::FundsUnavailable)
		);
	});
}

// ---- top up ----

#[test]
fn top_up_works() {
	build_and_execute(|| {
		let channel = open(BUYER, PROVIDER, 100);
		assert_ok!(FeeSettlement::top_up(signed(BUYER), channel, 50));
		System::assert_last_event(
			Event::ChannelToppedUp { channel, amount: 50, deposit: 150 }.into(),
		);
		assert_eq!(held(BUYER), 150);
	});
}

#[test]
fn top_up_fails_for_bad_input() {
	build_and_execute(|| {
		let channel = open(BUYER, PROVIDER, 100);
		assert_noop!(
			FeeSettlement::top_up(signed(BUYER), H256::repeat_byte(1), 5),
			Error::<Test>::UnknownChannel
		);
		assert_noop!(FeeSettlement::top_up(signed(PROVIDER), channel, 5), Error::<Test>::NotBuyer);
		assert_noop!(FeeSettlement::top_up(signed(BUYER), channel, 0), Error::<Test>::ZeroAmount);
		assert_noop!(
			FeeSettlement::top_up(signed(BUYER), channel, INITIAL),
			DispatchError::Token(TokenError::FundsUnavailable)
		);
		assert_ok!(FeeSettlement::request_close(signed(BUYER), channel));
		assert_noop!(
			FeeSettlement::top_up(signed(BUYER), channel, 5),
			Error::<Test>::ChannelClosing
		);
	});
}

// ---- redeem ----

#[test]
fn redeem_once_pays_the_cumulative_amount() {
	build_and_execute(|| {
		let channel = open(BUYER, PROVIDER, 100);
		assert_ok!(redeem(&voucher(channel, 30, 3)));
		System::assert_last_event(
			Event::VoucherRedeemed {
				channel,
				provider: account(PROVIDER),
				nonce: 3,
				cumulative: 30,
				amount: 30,
			}
			.into(),
		);
		assert_eq!(free(PROVIDER), INITIAL + 30);
		assert_eq!(held(BUYER), 70);
		let stored = Channels::<Test>::get(channel).unwrap();
		assert_eq!((stored.paid, stored.nonce), (30, 3));
		assert_eq!(stored.requests_root, merkle_root(&requests(3)));
	});
}

#[test]
fn redeem_twice_pays_only_the_difference() {
	build_and_execute(|| {
		let channel = open(BUYER, PROVIDER, 100);
		assert_ok!(redeem(&voucher(channel, 30, 3)));
		assert_ok!(redeem(&voucher(channel, 75, 10)));
		assert!(matches!(last_event(), Event::VoucherRedeemed { amount: 45, cumulative: 75, .. }));
		assert_eq!(free(PROVIDER), INITIAL + 75);
		assert_eq!(held(BUYER), 25);
		assert_eq!(free(BUYER), INITIAL - 100);
	});
}

#[test]
fn redeem_only_the_last_of_a_thousand_vouchers_settles_all() {
	build_and_execute(|| {
		let channel = open(BUYER, PROVIDER, 600);
		// The buyer signed one voucher per request, each paying 0.5 more on average; the provider
		// kept only the last, which covers all 1,000 requests.
		let last = voucher(channel, 500, 1_000);
		assert_ok!(redeem(&last));
		assert!(matches!(last_event(), Event::VoucherRedeemed { nonce: 1_000, amount: 500, .. }));
		assert_eq!(free(PROVIDER), INITIAL + 500);
		assert_eq!(held(BUYER), 100);
		// Every earlier voucher is now stale.
		assert_noop!(redeem(&voucher(channel, 499, 999)), Error::<Test>::StaleVoucher);
	});
}

#[test]
fn redeem_rejects_stale_vouchers() {
	build_and_execute(|| {
		let channel = open(BUYER, PROVIDER, 100);
		let v = voucher(channel, 30, 3);
		assert_ok!(redeem(&v));
		// The same voucher again (a replay), and an older one.
		assert_noop!(redeem(&v), Error::<Test>::StaleVoucher);
		assert_noop!(redeem(&voucher(channel, 20, 2)), Error::<Test>::StaleVoucher);
	});
}

#[test]
fn redeem_rejects_a_decreasing_cumulative_amount() {
	build_and_execute(|| {
		let channel = open(BUYER, PROVIDER, 100);
		assert_ok!(redeem(&voucher(channel, 30, 3)));
		assert_noop!(redeem(&voucher(channel, 29, 4)), Error::<Test>::CumulativeDecreased);
	});
}

#[test]
fn redeem_rejects_a_cumulative_amount_above_the_deposit_until_topped_up() {
	build_and_execute(|| {
		let channel = open(BUYER, PROVIDER, 100);
		let v = voucher(channel, 101, 1);
		assert_noop!(redeem(&v), Error::<Test>::CumulativeAboveDeposit);
		assert_ok!(FeeSettlement::top_up(signed(BUYER), channel, 1));
		assert_ok!(redeem(&v));
		assert_eq!(held(BUYER), 0);
	});
}

#[test]
fn redeem_rejects_a_voucher_signed_for_another_channel() {
	build_and_execute(|| {
		let first = open(BUYER, PROVIDER, 100);
		let second = open(BUYER, PROVIDER, 100);
		let for_first = voucher(first, 10, 1);
		let moved = Voucher { channel: second, ..for_first.clone() };
		assert_noop!(
			FeeSettlement::redeem(signed(PROVIDER), moved, sign(&for_first)),
			Error::<Test>::InvalidSignature
		);
	});
}

#[test]
fn redeem_rejects_a_voucher_signed_for_another_chain() {
	build_and_execute(|| {
		let channel = open(BUYER, PROVIDER, 100);
		let v = voucher(channel, 10, 1);
		let other_chain = sign_voucher(&pair(BUYER), &H256::repeat_byte(0x43), &v);
		assert_noop!(
			FeeSettlement::redeem(signed(PROVIDER), v, other_chain),
			Error::<Test>::InvalidSignature
		);
	});
}

#[test]
fn redeem_rejects_forged_and_malformed_signatures() {
	build_and_execute(|| {
		let channel = open(BUYER, PROVIDER, 100);
		let v = voucher(channel, 10, 1);
		// The provider signing the buyer's voucher itself.
		let forged = sign_voucher(&pair(PROVIDER), &GENESIS, &v);
		assert_noop!(
			FeeSettlement::redeem(signed(PROVIDER), v.clone(), forged),
			Error::<Test>::InvalidSignature
		);
		// Bytes that are no signature at all, in each scheme.
		for garbage in [
			MultiSignature::Sr25519(sr25519::Signature::from_raw([7; 64])),
			MultiSignature::Ed25519(ed25519::Signature::from_raw([7; 64])),
			MultiSignature::Ecdsa(polkadot_sdk::sp_core::ecdsa::Signature::from_raw([7; 65])),
		] {
			assert_noop!(
				FeeSettlement::redeem(signed(PROVIDER), v.clone(), garbage),
				Error::<Test>::InvalidSignature
			);
		}
	});
}

#[test]
fn redeem_rejects_anyone_but_the_provider() {
	build_and_execute(|| {
		let channel = open(BUYER, PROVIDER, 100);
		let v = voucher(channel, 10, 1);
		assert_noop!(
			FeeSettlement::redeem(signed("Charlie"), v.clone(), sign(&v)),
			Error::<Test>::NotProvider
		);
		let unknown = voucher(H256::repeat_byte(5), 10, 1);
		assert_noop!(redeem(&unknown), Error::<Test>::UnknownChannel);
	});
}

#[test]
fn redeem_accepts_bytes_wrapped_and_ed25519_signatures() {
	build_and_execute(|| {
		// sr25519 over `<Bytes>payload</Bytes>`, as polkadot.js `signRaw` signs.
		let channel = open(BUYER, PROVIDER, 100);
		let v = voucher(channel, 10, 1);
		let wrapped: MultiSignature =
			pair(BUYER).sign(&wrap_bytes(&signing_payload(&GENESIS, &v))).into();
		assert_ok!(FeeSettlement::redeem(signed(PROVIDER), v, wrapped));

		// An ed25519 buyer.
		let ed = ed25519::Pair::from_string("//Eve", None).unwrap();
		let eve = MultiSigner::from(ed.public()).into_account();
		Balances::set_balance(&eve, INITIAL);
		assert_ok!(FeeSettlement::open_channel(
			RuntimeOrigin::signed(eve.clone()),
			account(PROVIDER),
			50
		));
		let channel = channel_id(&eve, &account(PROVIDER), 0);
		let v = voucher(channel, 20, 2);
		assert_ok!(FeeSettlement::redeem(
			signed(PROVIDER),
			v.clone(),
			sign_voucher(&ed, &GENESIS, &v)
		));
		assert_eq!(free(PROVIDER), INITIAL + 30);
	});
}

// ---- batch ----

#[test]
fn redeem_batch_settles_several_channels() {
	build_and_execute(|| {
		let a = open(BUYER, PROVIDER, 100);
		let b = open(BUYER, PROVIDER, 100);
		let charlie = pair("Charlie");
		assert_ok!(FeeSettlement::open_channel(signed("Charlie"), account(PROVIDER), 100));
		let c = channel_id(&account("Charlie"), &account(PROVIDER), 0);
		let (va, vb, vc) = (voucher(a, 10, 1), voucher(b, 20, 2), voucher(c, 30, 3));
		let batch = vec![
			(va.clone(), sign(&va)),
			(vb.clone(), sign(&vb)),
			(vc.clone(), sign_voucher(&charlie, &GENESIS, &vc)),
		];
		assert_ok!(FeeSettlement::redeem_batch(signed(PROVIDER), BoundedVec::truncate_from(batch)));
		assert_eq!(free(PROVIDER), INITIAL + 60);
		let redeemed = System::events()
			.iter()
			.filter(|r| {
				matches!(r.event, RuntimeEvent::FeeSettlement(Event::VoucherRedeemed { .. }))
			})
			.count();
		assert_eq!(redeemed, 3);
	});
}

#[test]
fn redeem_batch_is_all_or_nothing() {
	build_and_execute(|| {
		let a = open(BUYER, PROVIDER, 100);
		let b = open(BUYER, PROVIDER, 100);
		let (va, vb) = (voucher(a, 10, 1), voucher(b, 200, 2));
		let batch =
			BoundedVec::truncate_from(vec![(va.clone(), sign(&va)), (vb.clone(), sign(&vb))]);
		assert_noop!(
			FeeSettlement::redeem_batch(signed(PROVIDER), batch),
			Error::<Test>::CumulativeAboveDeposit
		);
		assert_noop!(
			FeeSettlement::redeem_batch(signed(PROVIDER), BoundedVec::new()),
			Error::<Test>::EmptyBatch
		);
	});
}

// ---- close ----

#[test]
fn close_without_a_late_redeem_refunds_after_the_window() {
	build_and_execute(|| {
		let channel = open(BUYER, PROVIDER, 100);
		assert_ok!(redeem(&voucher(channel, 30, 3)));
		assert_ok!(FeeSettlement::request_close(signed(BUYER), channel));
		System::assert_last_event(Event::CloseRequested { channel, closes_at: 11 }.into());
		// The last block of the window: not yet.
		run_to_block(10);
		assert_noop!(
			FeeSettlement::finalize_close(signed("Charlie"), channel),
			Error::<Test>::ChallengeNotOver
		);
		// The first block after it: anyone can finalise; the refund goes to the buyer.
		run_to_block(11);
		assert_ok!(FeeSettlement::finalize_close(signed("Charlie"), channel));
		System::assert_last_event(Event::ChannelClosed { channel, paid: 30, refunded: 70 }.into());
		assert_eq!(held(BUYER), 0);
		assert_eq!(free(BUYER), INITIAL - 30);
		assert!(Channels::<Test>::get(channel).is_none());
		assert!(Buyers::<Test>::get(account(BUYER)).open.is_empty());
	});
}

#[test]
fn close_with_a_late_redeem_pays_the_provider_first() {
	build_and_execute(|| {
		let channel = open(BUYER, PROVIDER, 100);
		assert_ok!(redeem(&voucher(channel, 30, 3)));
		assert_ok!(FeeSettlement::request_close(signed(BUYER), channel));
		// The buyer hopes to get 70 back, but the provider redeems a later voucher in time.
		run_to_block(10);
		assert_ok!(redeem(&voucher(channel, 90, 9)));
		run_to_block(11);
		assert_noop!(redeem(&voucher(channel, 95, 10)), Error::<Test>::ChallengeOver);
		assert_ok!(FeeSettlement::finalize_close(signed(BUYER), channel));
		System::assert_last_event(Event::ChannelClosed { channel, paid: 90, refunded: 10 }.into());
		assert_eq!(free(PROVIDER), INITIAL + 90);
		assert_eq!(free(BUYER), INITIAL - 90);
	});
}

#[test]
fn request_close_fails_for_others_and_twice() {
	build_and_execute(|| {
		let channel = open(BUYER, PROVIDER, 100);
		assert_noop!(
			FeeSettlement::request_close(signed(PROVIDER), channel),
			Error::<Test>::NotBuyer
		);
		assert_noop!(
			FeeSettlement::request_close(signed(BUYER), H256::zero()),
			Error::<Test>::UnknownChannel
		);
		assert_ok!(FeeSettlement::request_close(signed(BUYER), channel));
		assert_noop!(
			FeeSettlement::request_close(signed(BUYER), channel),
			Error::<Test>::ChannelClosing
		);
	});
}

#[test]
fn finalize_close_fails_for_an_open_channel() {
	build_and_execute(|| {
		let channel = open(BUYER, PROVIDER, 100);
		run_to_block(100);
		assert_noop!(
			FeeSettlement::finalize_close(signed(BUYER), channel),
			Error::<Test>::ChallengeNotOver
		);
		assert_noop!(
			FeeSettlement::finalize_close(signed(BUYER), H256::zero()),
			Error::<Test>::UnknownChannel
		);
	});
}

#[test]
fn provider_close_refunds_at_once() {
	build_and_execute(|| {
		let channel = open(BUYER, PROVIDER, 100);
		assert_ok!(redeem(&voucher(channel, 40, 4)));
		assert_noop!(
			FeeSettlement::close_by_provider(signed(BUYER), channel),
			Error::<Test>::NotProvider
		);
		assert_ok!(FeeSettlement::close_by_provider(signed(PROVIDER), channel));
		System::assert_last_event(Event::ChannelClosed { channel, paid: 40, refunded: 60 }.into());
		assert_eq!(free(BUYER), INITIAL - 40);
		assert_eq!(held(BUYER), 0);
		// A closed channel takes nothing more.
		assert_noop!(redeem(&voucher(channel, 50, 5)), Error::<Test>::UnknownChannel);
	});
}

// ---- disputes ----

#[test]
fn prove_request_accepts_every_paid_request_and_nothing_else() {
	build_and_execute(|| {
		let channel = open(BUYER, PROVIDER, 100);
		assert_noop!(
			FeeSettlement::prove_request(
				signed(BUYER),
				channel,
				requests(1)[0],
				0,
				BoundedVec::new()
			),
			Error::<Test>::NothingRedeemed
		);
		assert_ok!(redeem(&voucher(channel, 50, 5)));
		let reqs = requests(5);
		for (i, request) in reqs.iter().enumerate() {
			let proof = BoundedVec::truncate_from(merkle_proof(&reqs, i).unwrap());
			assert_ok!(FeeSettlement::prove_request(
				signed(BUYER),
				channel,
				*request,
				i as u64,
				proof
			));
			System::assert_last_event(
				Event::RequestProven { channel, request: *request, index: i as u64, nonce: 5 }
					.into(),
			);
		}
		// A request that was not paid for (the sixth), and a proof for the wrong position.
		let six = requests(6);
		let proof = BoundedVec::truncate_from(merkle_proof(&six, 5).unwrap());
		assert_noop!(
			FeeSettlement::prove_request(signed(BUYER), channel, six[5], 5, proof),
			Error::<Test>::InvalidProof
		);
		let proof = BoundedVec::truncate_from(merkle_proof(&reqs, 1).unwrap());
		assert_noop!(
			FeeSettlement::prove_request(signed(BUYER), channel, reqs[1], 2, proof),
			Error::<Test>::InvalidProof
		);
	});
}

// ---- governance ----

#[test]
fn set_challenge_period_works_for_root_only_and_applies_to_later_closes() {
	build_and_execute(|| {
		assert_noop!(
			FeeSettlement::set_challenge_period(signed(BUYER), 5),
			DispatchError::BadOrigin
		);
		assert_noop!(
			FeeSettlement::set_challenge_period(RuntimeOrigin::root(), 1001),
			Error::<Test>::ChallengePeriodTooLong
		);
		assert_noop!(
			FeeSettlement::set_challenge_period(RuntimeOrigin::root(), 2),
			Error::<Test>::ChallengePeriodTooShort
		);
		assert_ok!(FeeSettlement::set_challenge_period(RuntimeOrigin::root(), 3));
		System::assert_last_event(Event::ChallengePeriodSet { period: 3 }.into());
		let channel = open(BUYER, PROVIDER, 100);
		assert_ok!(FeeSettlement::request_close(signed(BUYER), channel));
		System::assert_last_event(Event::CloseRequested { channel, closes_at: 4 }.into());
	});
}

#[test]
fn finding_18_a_close_cannot_be_requested_and_finalised_before_the_provider_can_redeem() {
	build_and_execute(|| {
		// The attack: governance (or a captured vote) sets a zero window, and the buyer requests
		// and finalises its close in one block, refunding what it owes the provider.
		let channel = open(BUYER, PROVIDER, 100);
		assert_noop!(
			FeeSettlement::set_challenge_period(RuntimeOrigin::root(), 0),
			Error::<Test>::ChallengePeriodTooShort
		);
		// At the floor (3 blocks), the provider still redeems after the close request.
		assert_ok!(FeeSettlement::set_challenge_period(RuntimeOrigin::root(), 3));
		assert_ok!(FeeSettlement::request_close(signed(BUYER), channel));
		assert!(FeeSettlement::finalize_close(signed(BUYER), channel).is_err());
		assert!(Channels::<Test>::contains_key(channel), "the channel waits out its window");
	});
}

#[test]
fn finding_17_channel_keys_are_hashed_so_ids_cannot_share_ground_prefixes() {
	build_and_execute(|| {
		// Two ids a buyer ground to share their first 16 bytes would, under an identity hasher,
		// share as long a trie path; hashed, their keys diverge at once.
		let channel = open(BUYER, PROVIDER, 100);
		let key = Channels::<Test>::hashed_key_for(channel);
		use polkadot_sdk::frame_support::storage::StoragePrefixedMap;
		let prefix = Channels::<Test>::final_prefix();
		let hashed = polkadot_sdk::sp_io::hashing::blake2_128(channel.as_bytes());
		assert_eq!(key, [&prefix[..], &hashed[..], channel.as_bytes()].concat());
		let mut ground = channel;
		ground.0[31] ^= 1;
		let other = Channels::<Test>::hashed_key_for(ground);
		assert_ne!(key[32..48], other[32..48], "the keys share a prefix beyond the map's");
	});
}

// ---- shared test vectors: vouchers signed by polkadot.js ----

#[derive(serde::Deserialize)]
struct Vectors {
	genesis: String,
	provider: String,
	vouchers: Vec<VectorVoucher>,
	merkle: Vec<VectorTree>,
}

#[derive(serde::Deserialize)]
struct VectorVoucher {
	scheme: String,
	wrapped: bool,
	buyer: String,
	channel: String,
	cumulative: String,
	nonce: u64,
	requests_root: String,
	payload: String,
	signature: String,
}

#[derive(serde::Deserialize)]
struct VectorTree {
	requests: Vec<String>,
	root: String,
	proofs: Vec<Vec<String>>,
}

fn h256(hex_str: &str) -> H256 {
	H256::from_slice(&hex::decode(hex_str.trim_start_matches("0x")).unwrap())
}

fn bytes(hex_str: &str) -> Vec<u8> {
	hex::decode(hex_str.trim_start_matches("0x")).unwrap()
}

fn vectors() -> Vectors {
	serde_json::from_str(include_str!("../../../tests/vectors/vouchers.json")).unwrap()
}

#[test]
fn vouchers_signed_by_polkadot_js_verify_raw_and_wrapped() {
	let vectors = vectors();
	assert_eq!(h256(&vectors.genesis), GENESIS);
	assert!(
		vectors.vouchers.iter().any(|v| v.wrapped) && vectors.vouchers.iter().any(|v| !v.wrapped)
	);
	assert!(vectors.vouchers.iter().any(|v| v.scheme == "ed25519"));
	build_and_execute(|| {
		let provider = polkadot_sdk::sp_runtime::AccountId32::new(h256(&vectors.provider).0);
		for v in &vectors.vouchers {
			let buyer = polkadot_sdk::sp_runtime::AccountId32::new(h256(&v.buyer).0);
			let channel = h256(&v.channel);
			if Channels::<Test>::get(channel).is_none() {
				Balances::set_balance(&buyer, INITIAL);
				let index = Buyers::<Test>::get(&buyer).opened;
				assert_ok!(FeeSettlement::open_channel(
					RuntimeOrigin::signed(buyer.clone()),
					provider.clone(),
					500
				));
				// The id polkadot.js computed is the one the chain assigns.
				assert_eq!(channel_id(&buyer, &provider, index), channel);
			}
			let voucher = Voucher {
				channel,
				cumulative: v.cumulative.parse::<Balance>().unwrap(),
				nonce: v.nonce,
				requests_root: h256(&v.requests_root),
			};
			// Rust builds exactly the bytes polkadot.js signed.
			assert_eq!(signing_payload(&GENESIS, &voucher), bytes(&v.payload));
			let raw = bytes(&v.signature);
			let signature = match v.scheme.as_str() {
				"sr25519" => {
					MultiSignature::Sr25519(sr25519::Signature::from_raw(raw.try_into().unwrap()))
				}
				"ed25519" => {
					MultiSignature::Ed25519(ed25519::Signature::from_raw(raw.try_into().unwrap()))
				}
				other => panic!("unknown scheme {other}"),
			};
			assert_ok!(FeeSettlement::redeem(
				RuntimeOrigin::signed(provider.clone()),
				voucher,
				signature
			));
		}
	});
}

#[test]
fn merkle_trees_built_by_polkadot_js_match() {
	for tree in vectors().merkle {
		let reqs: Vec<H256> = tree.requests.iter().map(|r| h256(r)).collect();
		assert_eq!(merkle_root(&reqs), h256(&tree.root));
		for (i, proof) in tree.proofs.iter().enumerate() {
			let proof: Vec<H256> = proof.iter().map(|p| h256(p)).collect();
			assert_eq!(merkle_proof(&reqs, i).unwrap(), proof);
		}
	}
}
