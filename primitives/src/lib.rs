//! Types shared by every Verity crate: accounts, balances, block numbers and the VER token.
//!
//! Pallets meet through small traits defined here, never by reading each other's storage.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod cid;
pub mod commit;
pub mod digest;
pub mod kernel;
pub mod market;
pub mod merkle;
pub mod staking;
pub mod training;
pub mod voucher;

use polkadot_sdk::{
	sp_core::H256,
	sp_runtime::{
		generic,
		traits::{BlakeTwo256, IdentifyAccount, Verify},
		MultiSignature,
	},
};

/// A block number.
pub type BlockNumber = u32;
/// Transaction signature: sr25519, ed25519 or ecdsa, as polkadot.js produces them.
pub type Signature = MultiSignature;
/// An account id: the public key of the signing scheme.
pub type AccountId = <<Signature as Verify>::Signer as IdentifyAccount>::AccountId;
/// A balance of VER in its smallest unit (10^-12 VER).
pub type Balance = u128;
/// An account's transaction counter.
pub type Nonce = u32;
/// A hash of chain data.
pub type Hash = H256;
/// Milliseconds since the unix epoch.
pub type Moment = u64;
/// The block header.
pub type Header = generic::Header<BlockNumber, BlakeTwo256>;

/// The native token.
pub mod currency {
	use super::Balance;

	/// Token symbol shown by wallets.
	pub const TOKEN_SYMBOL: &str = "VER";
	/// Decimal places of one VER.
	pub const TOKEN_DECIMALS: u8 = 12;
	/// One VER in the smallest unit.
	pub const VER: Balance = 1_000_000_000_000;
	/// 10^-3 VER.
	pub const MILLI_VER: Balance = VER / 1_000;
	/// 10^-6 VER.
	pub const MICRO_VER: Balance = MILLI_VER / 1_000;
	/// The SS58 address prefix (42, the generic Substrate one).
	pub const SS58_PREFIX: u16 = 42;
}

/// `0x`-prefixed lower-case hex, as polkadot.js and serde's `H256` write it.
#[cfg(feature = "serde")]
mod hex {
	use alloc::{string::String, vec::Vec};

	const DIGITS: &[u8; 16] = b"0123456789abcdef";

	pub fn encode(bytes: &[u8]) -> String {
		let mut out = String::from("0x");
		for b in bytes {
			out.push(char::from(DIGITS[usize::from(b >> 4)]));
			out.push(char::from(DIGITS[usize::from(b & 0xf)]));
		}
		out
	}

	pub fn decode(text: &str) -> Option<Vec<u8>> {
		let digits = text.strip_prefix("0x")?.as_bytes();
		if digits.len() % 2 != 0 {
			return None;
		}
		let nibble = |c: u8| char::from(c).to_digit(16).map(|d| d as u8);
		digits.chunks(2).map(|p| Some(nibble(*p.first()?)? << 4 | nibble(*p.get(1)?)?)).collect()
	}
}
