//! Payment-channel vouchers: the exact bytes a buyer signs and the fee-settlement pallet verifies.
//!
//! A buyer who calls a provider's model online pays through a channel: a deposit held on chain
//! and, with every request, a signed [`Voucher`] saying "in this channel I owe you `cumulative` in
//! total for the `nonce` requests whose hashes make up `requests_root`". The provider keeps only
//! the latest voucher and redeems it once, in one call whose cost does not depend on how many
//! requests it covers.
//!
//! # What is signed
//!
//! [`signing_payload`] is, byte for byte:
//!
//! | bytes | content |
//! |---|---|
//! | 17 | the ASCII prefix `verity/voucher/v1` ([`VOUCHER_PREFIX`]) |
//! | 32 | the chain's genesis hash |
//! | 32 | the channel id |
//! | 16 | `cumulative`, u128 little-endian (smallest VER unit) |
//! | 8 | `nonce`, u64 little-endian |
//! | 32 | `requests_root` |
//!
//! 137 bytes in all: the prefix separates vouchers from transactions and any other signed message,
//! the genesis hash separates chains (a testnet voucher is worthless on another chain), the
//! channel id separates channels. The last four fields are the SCALE encoding of [`Voucher`].
//!
//! The buyer signs the payload with its account key (sr25519, ed25519 or ecdsa, as a
//! `MultiSignature`). Wallets and polkadot.js `signRaw` sign `<Bytes>payload</Bytes>` instead
//! ([`wrap_bytes`]); the pallet accepts both.
//!
//! # What the requests root proves
//!
//! `requests_root` is the root of a binary Merkle tree ([`merkle_root`](crate::merkle::merkle_root)) over the hashes of the
//! requests the voucher pays for, in order, and `nonce` is how many there are: a voucher with
//! nonce `n` covers requests `0..n`. Signing it, the buyer states which requests it is paying for;
//! redeeming it, the provider accepts payment for exactly those. After a redeem the chain keeps the
//! root and its leaf count, so either side can later prove with a [`merkle_proof`](crate::merkle::merkle_proof) that a given
//! request was paid for (the buyer: "you were paid for this request, where is its response?"), and
//! nobody can claim payment for a request outside the root.
//!
//! The tree is [`crate::merkle`]'s (the same tree the training audits use), over the request
//! hashes as leaves; [`crate::merkle::RequestLog`] keeps a channel's root as requests arrive.

use alloc::vec::Vec;
use codec::{DecodeWithMemTracking, Encode, MaxEncodedLen};
use polkadot_sdk::{sp_core::H256, sp_crypto_hashing::blake2_256, sp_runtime::traits::Verify};
use scale_info::TypeInfo;

/// Prefix of every voucher payload: separates vouchers from any other message a key signs.
pub const VOUCHER_PREFIX: &[u8; 17] = b"verity/voucher/v1";
/// Prefix of the preimage of a channel id.
pub const CHANNEL_PREFIX: &[u8; 17] = b"verity/channel/v1";
/// What polkadot.js `signRaw` and browser wallets put before the message they sign.
pub const BYTES_OPEN: &[u8; 7] = b"<Bytes>";
/// What polkadot.js `signRaw` and browser wallets put after the message they sign.
pub const BYTES_CLOSE: &[u8; 8] = b"</Bytes>";

/// A buyer's promise to pay `cumulative` in total on `channel` for its first `nonce` requests.
#[derive(
	Clone,
	PartialEq,
	Eq,
	Encode,
	codec::Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Debug,
)]
pub struct Voucher<Balance> {
	/// The channel this voucher pays on.
	pub channel: H256,
	/// Total owed on the channel since it opened, not the increment.
	pub cumulative: Balance,
	/// Number of requests covered; strictly increases from one redeemed voucher to the next.
	pub nonce: u64,
	/// Merkle root of the hashes of the `nonce` requests covered ([`merkle_root`](crate::merkle::merkle_root)).
	pub requests_root: H256,
}

/// The id of the `index`-th channel `buyer` opens to `provider`:
/// blake2-256(`verity/channel/v1` ‖ buyer ‖ provider ‖ index as u64 LE).
pub fn channel_id<AccountId: Encode>(buyer: &AccountId, provider: &AccountId, index: u64) -> H256 {
	let mut preimage = CHANNEL_PREFIX.to_vec();
	buyer.encode_to(&mut preimage);
	provider.encode_to(&mut preimage);
	index.encode_to(&mut preimage);
	H256(blake2_256(&preimage))
}

/// The bytes a buyer signs for `voucher` on the chain whose genesis hash is `genesis` (32 bytes;
/// see the module docs for the layout).
pub fn signing_payload<G: AsRef<[u8]>, Balance: Encode>(
	genesis: &G,
	voucher: &Voucher<Balance>,
) -> Vec<u8> {
	let mut payload = Vec::with_capacity(137);
	payload.extend_from_slice(VOUCHER_PREFIX);
	payload.extend_from_slice(genesis.as_ref());
	voucher.encode_to(&mut payload);
	payload
}

/// `payload` wrapped as polkadot.js `signRaw` and browser extensions sign it.
pub fn wrap_bytes(payload: &[u8]) -> Vec<u8> {
	let mut wrapped = Vec::with_capacity(payload.len().saturating_add(15));
	wrapped.extend_from_slice(BYTES_OPEN);
	wrapped.extend_from_slice(payload);
	wrapped.extend_from_slice(BYTES_CLOSE);
	wrapped
}

/// Whether `signature` is `signer`'s signature of `voucher` on chain `genesis`, either over the
/// raw payload or over its `<Bytes>` wrapping.
pub fn verify_voucher<G: AsRef<[u8]>, Balance: Encode, S: Verify>(
	genesis: &G,
	voucher: &Voucher<Balance>,
	signature: &S,
	signer: &<S::Signer as polkadot_sdk::sp_runtime::traits::IdentifyAccount>::AccountId,
) -> bool {
	let payload = signing_payload(genesis, voucher);
	signature.verify(&payload[..], signer) || signature.verify(&wrap_bytes(&payload)[..], signer)
}

/// Signing with a local key: what the worker and tests use to produce vouchers.
#[cfg(feature = "std")]
pub mod sign {
	use super::*;
	use polkadot_sdk::{sp_core::Pair, sp_runtime::MultiSignature};

	/// Signs `voucher`'s raw payload with an sr25519, ed25519 or ecdsa key.
	pub fn sign_voucher<P, Balance>(
		pair: &P,
		genesis: &H256,
		voucher: &Voucher<Balance>,
	) -> MultiSignature
	where
		P: Pair,
		MultiSignature: From<P::Signature>,
		Balance: Encode,
	{
		pair.sign(&signing_payload(genesis, voucher)).into()
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::merkle::merkle_root;
	use polkadot_sdk::{
		sp_core::{ed25519, sr25519, Pair},
		sp_runtime::{traits::IdentifyAccount, AccountId32, MultiSignature, MultiSigner},
	};

	fn requests(n: u64) -> Vec<H256> {
		(0..n).map(|i| H256(blake2_256(&i.to_le_bytes()))).collect()
	}

	#[test]
	fn payload_is_137_bytes_in_documented_order() {
		let voucher = Voucher {
			channel: H256::repeat_byte(2),
			cumulative: 5u128,
			nonce: 7,
			requests_root: H256::repeat_byte(3),
		};
		let payload = signing_payload(&H256::repeat_byte(1), &voucher);
		assert_eq!(payload.len(), 137);
		assert_eq!(&payload[..17], b"verity/voucher/v1");
		assert_eq!(&payload[17..49], &[1u8; 32]);
		assert_eq!(&payload[49..81], &[2u8; 32]);
		assert_eq!(&payload[81..97], &5u128.to_le_bytes());
		assert_eq!(&payload[97..105], &7u64.to_le_bytes());
		assert_eq!(&payload[105..], &[3u8; 32]);
	}

	#[test]
	fn signed_vouchers_verify_raw_and_wrapped_and_only_for_their_signer() {
		let genesis = H256::repeat_byte(7);
		let voucher = Voucher {
			channel: H256::repeat_byte(1),
			cumulative: 10u128,
			nonce: 1,
			requests_root: merkle_root(&requests(1)),
		};
		let sr = sr25519::Pair::from_string("//Alice", None).unwrap();
		let ed = ed25519::Pair::from_string("//Alice", None).unwrap();
		let sr_account: AccountId32 = MultiSigner::from(sr.public()).into_account();
		let ed_account: AccountId32 = MultiSigner::from(ed.public()).into_account();

		let sig = sign::sign_voucher(&sr, &genesis, &voucher);
		assert!(verify_voucher(&genesis, &voucher, &sig, &sr_account));
		assert!(!verify_voucher(&genesis, &voucher, &sig, &ed_account));
		assert!(!verify_voucher(&H256::repeat_byte(8), &voucher, &sig, &sr_account));
		let other = Voucher { cumulative: 11u128, ..voucher.clone() };
		assert!(!verify_voucher(&genesis, &other, &sig, &sr_account));

		let sig = sign::sign_voucher(&ed, &genesis, &voucher);
		assert!(verify_voucher(&genesis, &voucher, &sig, &ed_account));

		let wrapped: MultiSignature =
			sr.sign(&wrap_bytes(&signing_payload(&genesis, &voucher))).into();
		assert!(verify_voucher(&genesis, &voucher, &wrapped, &sr_account));
	}

	#[test]
	fn channel_ids_differ_by_every_input() {
		let a = AccountId32::new([1; 32]);
		let b = AccountId32::new([2; 32]);
		let id = channel_id(&a, &b, 0);
		assert_ne!(id, channel_id(&a, &b, 1));
		assert_ne!(id, channel_id(&b, &a, 0));
		assert_eq!(id, channel_id(&a, &b, 0));
	}
}
