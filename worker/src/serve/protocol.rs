//! The wire format of paid inference: what a request's hash covers, what a response's receipt
//! signs, how tensors and vouchers travel in HTTP. Pure functions, shared by the server, the Rust
//! buyer client and (byte for byte) `tests/e2e/voucher.mjs`.
//!
//! # A request
//!
//! `POST /v1/kernels/{kernel id}/infer` with the body `{"input": {"shape": [n, …], "data": [...]}}`
//! (numbers, row-major, in the kernel record's input dtype) and two headers:
//!
//! - `verity-voucher`: `0x` hex of the SCALE-encoded [`Voucher`] (88 bytes: channel, cumulative
//!   u128 LE, nonce u64 LE, requests root) that pays for this request: its nonce is one more than
//!   the channel's requests served so far, its root the Merkle root over their hashes with this
//!   request's hash last, its cumulative amount at least the previous one plus the price;
//! - `verity-signature`: `0x` hex of the SCALE-encoded `MultiSignature` of the buyer over the
//!   voucher ([`verity_primitives::voucher::signing_payload`], raw or `<Bytes>`-wrapped).
//!
//! The request hash ([`request_hash`]) is
//! `blake2-256("verity/request/v1" ‖ channel ‖ nonce u64 LE ‖ kernel id ‖ blake2-256(body))`:
//! the exact body bytes, bound to the channel and its position in it, so the same input sent twice
//! is two requests and a body cannot be swapped under a voucher.
//!
//! # A response
//!
//! `{"output": {"dtype", "shape", "data"}, "request", "output_digest", "nonce", "cumulative",
//! "provider", "signature"}`. The output digest ([`output_digest`]) is
//! `blake2-256("verity/output/v1" ‖ dtype index u8 ‖ ndims u8 ‖ dims u64 LE ‖ data LE)`, and the
//! provider's sr25519 `signature` is over [`receipt_payload`] =
//! `"verity/response/v1" ‖ genesis ‖ request hash ‖ output digest`: a buyer holding it and the
//! voucher can show what it paid for (with `feeSettlement.proveRequest`) and what came back.

use codec::{Decode, Encode};
use polkadot_sdk::{
	sp_core::{crypto::ByteArray, sr25519, H256},
	sp_crypto_hashing::blake2_256,
	sp_runtime::{traits::Verify, MultiSignature},
};
use serde::{Deserialize, Serialize};
use verity_primitives::{kernel::DType, voucher::Voucher};

/// Prefix of a request hash's preimage.
pub const REQUEST_PREFIX: &[u8] = b"verity/request/v1";
/// Prefix of a receipt's signed payload.
pub const RESPONSE_PREFIX: &[u8] = b"verity/response/v1";
/// Prefix of an output digest's preimage.
pub const OUTPUT_PREFIX: &[u8] = b"verity/output/v1";
/// Header carrying the voucher.
pub const VOUCHER_HEADER: &str = "verity-voucher";
/// Header carrying the buyer's signature of the voucher.
pub const SIGNATURE_HEADER: &str = "verity-signature";

/// The hash of request number `nonce` (1 for the first) on `channel` to `kernel` with `body`.
pub fn request_hash(channel: &H256, nonce: u64, kernel: &H256, body: &[u8]) -> H256 {
	let mut pre = Vec::with_capacity(REQUEST_PREFIX.len() + 32 + 8 + 32 + 32);
	pre.extend_from_slice(REQUEST_PREFIX);
	pre.extend_from_slice(channel.as_bytes());
	pre.extend_from_slice(&nonce.to_le_bytes());
	pre.extend_from_slice(kernel.as_bytes());
	pre.extend_from_slice(&blake2_256(body));
	H256(blake2_256(&pre))
}

/// A tensor as JSON carries it: shape and row-major values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonTensor {
	/// Element type (responses say it; requests take the kernel's).
	#[serde(default, skip_serializing_if = "Option::is_none")]
	pub dtype: Option<DType>,
	/// Dimensions.
	pub shape: Vec<u64>,
	/// Values, row-major.
	pub data: Vec<serde_json::Number>,
}

/// The body of an inference request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InferRequest {
	/// The kernel's input.
	pub input: JsonTensor,
}

/// An answered request: the output and the provider's receipt.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InferResponse {
	/// The kernel's output.
	pub output: JsonTensor,
	/// The request hash (`0x` hex).
	pub request: String,
	/// The output digest (`0x` hex).
	pub output_digest: String,
	/// The voucher's nonce: this request's position in the channel.
	pub nonce: u64,
	/// The voucher's cumulative amount (decimal, smallest unit).
	pub cumulative: String,
	/// The provider's account (SS58).
	pub provider: String,
	/// The provider's sr25519 signature of the receipt payload (`0x` hex, 64 bytes).
	pub signature: String,
}

/// The digest of an output tensor's dtype, shape and little-endian values.
pub fn output_digest(dtype: DType, shape: &[u64], data_le: &[u8]) -> H256 {
	let mut pre = Vec::with_capacity(OUTPUT_PREFIX.len() + 2 + 8 * shape.len() + data_le.len());
	pre.extend_from_slice(OUTPUT_PREFIX);
	pre.extend_from_slice(&dtype.encode());
	pre.push(shape.len() as u8);
	for d in shape {
		pre.extend_from_slice(&d.to_le_bytes());
	}
	pre.extend_from_slice(data_le);
	H256(blake2_256(&pre))
}

/// What the provider signs for a response.
pub fn receipt_payload(genesis: &H256, request: &H256, output_digest: &H256) -> Vec<u8> {
	let mut p = Vec::with_capacity(RESPONSE_PREFIX.len() + 96);
	p.extend_from_slice(RESPONSE_PREFIX);
	p.extend_from_slice(genesis.as_bytes());
	p.extend_from_slice(request.as_bytes());
	p.extend_from_slice(output_digest.as_bytes());
	p
}

/// Whether `signature` (64 bytes) is `provider`'s receipt of `request` answered by `output_digest`.
pub fn verify_receipt(
	genesis: &H256,
	request: &H256,
	output_digest: &H256,
	signature: &[u8],
	provider: &[u8; 32],
) -> bool {
	let (Ok(sig), Ok(public)) =
		(sr25519::Signature::from_slice(signature), sr25519::Public::from_slice(provider))
	else {
		return false;
	};
	sig.verify(&receipt_payload(genesis, request, output_digest)[..], &public)
}

/// Parses a `0x` hex header value into a SCALE-decoded `T`, refusing trailing bytes.
pub fn decode_hex<T: Decode>(text: &str) -> Result<T, String> {
	let bytes = hex::decode(text.trim().trim_start_matches("0x")).map_err(|e| e.to_string())?;
	let mut at = &bytes[..];
	let value = T::decode(&mut at).map_err(|e| e.to_string())?;
	match at.is_empty() {
		true => Ok(value),
		false => Err(format!("{} bytes left over", at.len())),
	}
}

/// Parses `0x` hex of exactly 32 bytes.
pub fn decode_h256(text: &str) -> Option<H256> {
	let bytes = hex::decode(text.trim().trim_start_matches("0x")).ok()?;
	(bytes.len() == 32).then(|| H256::from_slice(&bytes))
}

/// The little-endian bytes of JSON `values` read as `dtype`: what [`output_digest`] hashes of a
/// response's output (f32 or i64, the dtypes the server answers in).
pub fn le_bytes(dtype: DType, values: &[serde_json::Number]) -> Result<Vec<u8>, String> {
	let mut out = Vec::with_capacity(values.len() * 8);
	for (i, n) in values.iter().enumerate() {
		match dtype {
			DType::F32 => match n.as_f64() {
				Some(x) => out.extend_from_slice(&(x as f32).to_le_bytes()),
				None => return Err(format!("value {i} is not a number")),
			},
			DType::I64 => match n.as_i64() {
				Some(x) => out.extend_from_slice(&x.to_le_bytes()),
				None => return Err(format!("value {i} is not an i64")),
			},
			other => return Err(format!("{other:?} outputs are not served")),
		}
	}
	Ok(out)
}

/// A voucher and its signature as the headers carry them.
pub fn voucher_headers(
	voucher: &Voucher<u128>,
	signature: &MultiSignature,
) -> [(String, String); 2] {
	[
		(VOUCHER_HEADER.into(), format!("0x{}", hex::encode(voucher.encode()))),
		(SIGNATURE_HEADER.into(), format!("0x{}", hex::encode(signature.encode()))),
	]
}

#[cfg(test)]
mod tests {
	use super::*;
	use polkadot_sdk::sp_core::Pair;

	#[test]
	fn request_hashes_differ_by_channel_nonce_kernel_and_body() {
		let (c, k) = (H256::repeat_byte(1), H256::repeat_byte(2));
		let h = request_hash(&c, 1, &k, b"{}");
		assert_ne!(h, request_hash(&H256::repeat_byte(3), 1, &k, b"{}"));
		assert_ne!(h, request_hash(&c, 2, &k, b"{}"));
		assert_ne!(h, request_hash(&c, 1, &H256::repeat_byte(3), b"{}"));
		assert_ne!(h, request_hash(&c, 1, &k, b"{ }"));
		assert_eq!(h, request_hash(&c, 1, &k, b"{}"));
	}

	#[test]
	fn receipts_verify_only_for_their_request_output_chain_and_signer() {
		let bob = sr25519::Pair::from_string("//Bob", None).unwrap();
		let alice = sr25519::Pair::from_string("//Alice", None).unwrap();
		let (g, r) = (H256::repeat_byte(9), H256::repeat_byte(8));
		let d = output_digest(DType::F32, &[1, 2], &[0; 8]);
		let sig = bob.sign(&receipt_payload(&g, &r, &d));
		let bob_key = bob.public().0;
		assert!(verify_receipt(&g, &r, &d, &sig.0, &bob_key));
		assert!(!verify_receipt(&g, &r, &d, &sig.0, &alice.public().0));
		assert!(!verify_receipt(&H256::repeat_byte(1), &r, &d, &sig.0, &bob_key));
		assert!(!verify_receipt(&g, &H256::repeat_byte(1), &d, &sig.0, &bob_key));
		let other = output_digest(DType::F32, &[2, 1], &[0; 8]);
		assert!(!verify_receipt(&g, &r, &other, &sig.0, &bob_key));
	}

	#[test]
	fn header_values_round_trip_and_refuse_trailing_bytes() {
		let v = Voucher {
			channel: H256::repeat_byte(1),
			cumulative: 7u128,
			nonce: 3,
			requests_root: H256::repeat_byte(2),
		};
		let hex_text = format!("0x{}", hex::encode(v.encode()));
		assert_eq!(decode_hex::<Voucher<u128>>(&hex_text), Ok(v.clone()));
		assert!(decode_hex::<Voucher<u128>>(&format!("{hex_text}00")).is_err());
		assert!(decode_hex::<Voucher<u128>>("0xzz").is_err());
	}
}
