//! The commit–reveal commitment of a committee member (the proof-of-compute pallet checks it;
//! `verity-worker` and `tests/e2e/lib.mjs` compute it).
//!
//! ```text
//! commitment = sha2-256( "verity/commit/v1"      16 bytes, ASCII
//!                      ‖ round                   8 bytes, u64 little endian
//!                      ‖ digest                 32 bytes (crate::digest, by the kernel's rule)
//!                      ‖ nonce                  32 bytes, random, kept secret until reveal
//!                      ‖ member )               SCALE encoding of the account id (32 bytes)
//! ```
//!
//! The member is inside the hash, so a copied commitment does not open for the copier; the nonce
//! keeps a digest from being guessed from its commitment. Vectors: `tests/vectors/digests.json`,
//! section `commitments`.

use alloc::vec::Vec;
use codec::Encode;
use polkadot_sdk::{sp_core::H256, sp_crypto_hashing::sha2_256};

/// Domain tag of commitments.
pub const COMMIT_PREFIX: &[u8; 16] = b"verity/commit/v1";

/// `sha2-256("verity/commit/v1" ‖ round as u64 LE ‖ digest ‖ nonce ‖ SCALE(member))`.
pub fn commitment<A: Encode>(round: u64, digest: &H256, nonce: &H256, member: &A) -> H256 {
	let mut bytes = Vec::with_capacity(16 + 8 + 32 + 32 + 32);
	bytes.extend_from_slice(COMMIT_PREFIX);
	bytes.extend_from_slice(&round.to_le_bytes());
	bytes.extend_from_slice(digest.as_bytes());
	bytes.extend_from_slice(nonce.as_bytes());
	member.encode_to(&mut bytes);
	H256(sha2_256(&bytes))
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn commitment_layout_is_the_documented_one() {
		let (digest, nonce) = (H256::repeat_byte(1), H256::repeat_byte(2));
		let member = [3u8; 32];
		let mut bytes = b"verity/commit/v1".to_vec();
		bytes.extend_from_slice(&7u64.to_le_bytes());
		bytes.extend_from_slice(&[1; 32]);
		bytes.extend_from_slice(&[2; 32]);
		bytes.extend_from_slice(&[3; 32]);
		assert_eq!(bytes.len(), 120);
		assert_eq!(commitment(7, &digest, &nonce, &member), H256(sha2_256(&bytes)));
		assert_ne!(
			commitment(7, &digest, &nonce, &[4u8; 32]),
			commitment(7, &digest, &nonce, &member)
		);
		assert_ne!(
			commitment(8, &digest, &nonce, &member),
			commitment(7, &digest, &nonce, &member)
		);
	}
}
