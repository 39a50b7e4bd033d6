//! Content identifiers as the chain accepts them: CIDv1 with a sha2-256 multihash.
//!
//! Every blob Verity names on chain (TorchScript archives, datasets, inputs, checkpoints, outputs)
//! is named by a CIDv1 whose multihash is sha2-256 (code `0x12`, 32-byte digest). Two content
//! codecs are accepted:
//!
//! - `raw` (`0x55`): the digest is sha2-256 of the blob's bytes. This is what `verity-worker`'s
//!   content store writes, and what every Verity tool produces.
//! - `dag-pb` (`0x70`): an IPFS UnixFS root node, for blobs that were added to IPFS as files.
//!
//! A CID is given either in binary form (`0x01 ‖ varint codec ‖ 0x12 ‖ 0x20 ‖ digest`, 36 bytes for
//! both codecs) or as text in multibase base32 lower case without padding (the `b…` form IPFS
//! prints, for example `bafkrei…` for `raw`). [`Cid::parse`] accepts both and rejects everything
//! else with a [`CidError`] that says what was wrong; [`Cid::to_bytes`] gives the binary form.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use polkadot_sdk::sp_core::H256;
use scale_info::TypeInfo;

/// Multicodec code of `raw` binary content.
pub const CODEC_RAW: u64 = 0x55;
/// Multicodec code of `dag-pb` (IPFS UnixFS) content.
pub const CODEC_DAG_PB: u64 = 0x70;
/// Multihash code of sha2-256.
pub const MULTIHASH_SHA2_256: u64 = 0x12;
/// Length of a binary CIDv1 with a sha2-256 multihash and a one-byte codec varint.
pub const BINARY_LEN: usize = 36;
/// The longest CID text or binary form [`Cid::parse`] looks at (the base32 text form is 59 bytes).
pub const MAX_CID_INPUT: u32 = 64;

/// The content codec of a CID.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	PartialOrd,
	Ord,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Debug,
)]
pub enum CidCodec {
	/// `raw` (0x55): the digest covers the blob's bytes.
	Raw,
	/// `dag-pb` (0x70): the digest covers an IPFS UnixFS root node.
	DagPb,
}

impl CidCodec {
	/// The multicodec code.
	pub fn code(self) -> u64 {
		match self {
			CidCodec::Raw => CODEC_RAW,
			CidCodec::DagPb => CODEC_DAG_PB,
		}
	}
}

/// A validated CIDv1 with a sha2-256 multihash, as stored on chain (33 bytes encoded).
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	PartialOrd,
	Ord,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Debug,
)]
pub struct Cid {
	/// The content codec.
	pub codec: CidCodec,
	/// The sha2-256 digest.
	pub digest: H256,
}

/// Why bytes are not an accepted CID.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CidError {
	/// Empty input.
	Empty,
	/// Longer than any accepted CID.
	TooLong,
	/// Text form with a character outside base32 lower case, or a multibase other than `b`.
	BadEncoding,
	/// Not CIDv1 (CIDv0 `Qm…` and unknown versions are refused).
	UnsupportedVersion,
	/// A content codec other than `raw` or `dag-pb`.
	UnsupportedCodec,
	/// A multihash other than sha2-256 with a 32-byte digest.
	UnsupportedHash,
	/// A varint that does not end, or is longer than 9 bytes.
	BadVarint,
	/// Bytes missing or left over after the digest.
	BadLength,
}

impl CidError {
	/// A short human-readable reason.
	pub fn as_str(self) -> &'static str {
		match self {
			CidError::Empty => "empty CID",
			CidError::TooLong => "CID too long",
			CidError::BadEncoding => "not binary CIDv1 or base32 (b...) text",
			CidError::UnsupportedVersion => "not CIDv1",
			CidError::UnsupportedCodec => "codec is neither raw (0x55) nor dag-pb (0x70)",
			CidError::UnsupportedHash => "multihash is not sha2-256 with 32 bytes",
			CidError::BadVarint => "malformed varint",
			CidError::BadLength => "wrong CID length",
		}
	}
}

fn read_varint(bytes: &[u8], at: &mut usize) -> Result<u64, CidError> {
	let mut value: u64 = 0;
	for shift in 0..9u32 {
		let byte = *bytes.get(*at).ok_or(CidError::BadVarint)?;
		*at = at.checked_add(1).ok_or(CidError::BadVarint)?;
		value |= u64::from(byte & 0x7f) << (7 * shift);
		if byte & 0x80 == 0 {
			return Ok(value);
		}
	}
	Err(CidError::BadVarint)
}

/// Decodes RFC 4648 base32, lower case, no padding; `None` on any other character or trailing
/// bits that are not zero.
fn base32_decode(text: &[u8]) -> Option<alloc::vec::Vec<u8>> {
	let mut out = alloc::vec::Vec::with_capacity(text.len() * 5 / 8);
	let mut acc: u32 = 0;
	let mut bits: u32 = 0;
	for &c in text {
		let v = match c {
			b'a'..=b'z' => c - b'a',
			b'2'..=b'7' => c - b'2' + 26,
			_ => return None,
		};
		acc = (acc << 5) | u32::from(v);
		bits += 5;
		if bits >= 8 {
			bits -= 8;
			out.push((acc >> bits) as u8);
			acc &= (1 << bits) - 1;
		}
	}
	if acc != 0 {
		return None;
	}
	Some(out)
}

/// Encodes bytes as RFC 4648 base32, lower case, no padding.
fn base32_encode(bytes: &[u8]) -> alloc::string::String {
	const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
	let mut out = alloc::string::String::with_capacity(bytes.len() * 8 / 5 + 1);
	let mut acc: u32 = 0;
	let mut bits: u32 = 0;
	for &b in bytes {
		acc = (acc << 8) | u32::from(b);
		bits += 8;
		while bits >= 5 {
			bits -= 5;
			out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
		}
		acc &= (1 << bits) - 1;
	}
	if bits > 0 {
		out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
	}
	out
}

#[allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
impl Cid {
	/// A `raw` CID of a digest.
	pub fn raw(digest: H256) -> Self {
		Cid { codec: CidCodec::Raw, digest }
	}

	/// Parses a binary CIDv1 or its base32 (`b…`) text form; see the module docs.
	pub fn parse(input: &[u8]) -> Result<Self, CidError> {
		match input.first() {
			None => Err(CidError::Empty),
			_ if input.len() > MAX_CID_INPUT as usize => Err(CidError::TooLong),
			Some(b'b') => {
				let bytes = base32_decode(&input[1..]).ok_or(CidError::BadEncoding)?;
				Self::from_binary(&bytes)
			}
			Some(b'Q') => Err(CidError::UnsupportedVersion),
			Some(_) => Self::from_binary(input),
		}
	}

	/// Parses the binary form.
	pub fn from_binary(bytes: &[u8]) -> Result<Self, CidError> {
		let mut at = 0usize;
		if read_varint(bytes, &mut at)? != 1 {
			return Err(CidError::UnsupportedVersion);
		}
		let codec = match read_varint(bytes, &mut at)? {
			CODEC_RAW => CidCodec::Raw,
			CODEC_DAG_PB => CidCodec::DagPb,
			_ => return Err(CidError::UnsupportedCodec),
		};
		if read_varint(bytes, &mut at)? != MULTIHASH_SHA2_256 || read_varint(bytes, &mut at)? != 32
		{
			return Err(CidError::UnsupportedHash);
		}
		let digest = bytes.get(at..).ok_or(CidError::BadLength)?;
		if digest.len() != 32 {
			return Err(CidError::BadLength);
		}
		Ok(Cid { codec, digest: H256::from_slice(digest) })
	}

	/// The 36-byte binary form.
	pub fn to_bytes(&self) -> [u8; BINARY_LEN] {
		let mut out = [0u8; BINARY_LEN];
		out[0] = 0x01;
		out[1] = self.codec.code() as u8;
		out[2] = MULTIHASH_SHA2_256 as u8;
		out[3] = 32;
		out[4..].copy_from_slice(self.digest.as_bytes());
		out
	}

	/// The base32 text form (`bafkrei…` for `raw`).
	pub fn to_text(&self) -> alloc::string::String {
		let mut text = alloc::string::String::from("b");
		text.push_str(&base32_encode(&self.to_bytes()));
		text
	}

	/// The `raw` CID of `bytes` (sha2-256 of the bytes).
	pub fn of_raw_bytes(bytes: &[u8]) -> Self {
		Cid::raw(H256(polkadot_sdk::sp_crypto_hashing::sha2_256(bytes)))
	}
}

impl core::fmt::Display for Cid {
	/// The base32 text form.
	fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
		f.write_str(&self.to_text())
	}
}

impl core::str::FromStr for Cid {
	type Err = CidError;

	/// Parses the text form (or, for completeness, any input [`Cid::parse`] accepts).
	fn from_str(s: &str) -> Result<Self, CidError> {
		Cid::parse(s.as_bytes())
	}
}

impl core::fmt::Display for CidError {
	fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
		f.write_str(self.as_str())
	}
}

/// CIDs in JSON (kernel manifests, worker reports) are their text form.
#[cfg(feature = "serde")]
impl serde::Serialize for Cid {
	fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
		serializer.serialize_str(&self.to_text())
	}
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Cid {
	fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
		let text = <alloc::string::String as serde::Deserialize>::deserialize(deserializer)?;
		Cid::parse(text.as_bytes())
			.map_err(|e| serde::de::Error::custom(alloc::format!("CID {text:?}: {}", e.as_str())))
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	// `echo -n hello | ipfs add --cid-version 1 --raw-leaves` prints this CID; its digest is
	// sha2-256("hello").
	const HELLO: &str = "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq";

	#[test]
	fn parses_text_and_binary_forms() {
		let cid = Cid::parse(HELLO.as_bytes()).unwrap();
		assert_eq!(cid, Cid::of_raw_bytes(b"hello"));
		assert_eq!(cid.to_text(), HELLO);
		assert_eq!(Cid::parse(&cid.to_bytes()).unwrap(), cid);
		let pb = Cid { codec: CidCodec::DagPb, digest: H256([7; 32]) };
		assert_eq!(Cid::parse(pb.to_text().as_bytes()).unwrap(), pb);
		assert!(pb.to_text().starts_with("bafybei"));
	}

	#[test]
	fn rejects_malformed_cids() {
		let good = Cid::of_raw_bytes(b"x").to_bytes();
		assert_eq!(Cid::parse(b""), Err(CidError::Empty));
		assert_eq!(Cid::parse(&[0u8; 65]), Err(CidError::TooLong));
		assert_eq!(
			Cid::parse(b"QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"),
			Err(CidError::UnsupportedVersion)
		);
		assert_eq!(Cid::parse(b"bafkrei!!"), Err(CidError::BadEncoding));
		assert_eq!(Cid::parse(b"BAFKREI"), Err(CidError::UnsupportedVersion));
		let mut v = good;
		v[1] = 0x71; // dag-cbor
		assert_eq!(Cid::parse(&v), Err(CidError::UnsupportedCodec));
		let mut v = good;
		v[2] = 0x13; // sha2-512
		assert_eq!(Cid::parse(&v), Err(CidError::UnsupportedHash));
		let mut v = good;
		v[3] = 31;
		assert_eq!(Cid::parse(&v), Err(CidError::UnsupportedHash));
		assert_eq!(Cid::parse(&good[..35]), Err(CidError::BadLength));
		let mut long = good.to_vec();
		long.push(0);
		assert_eq!(Cid::parse(&long), Err(CidError::BadLength));
		assert_eq!(Cid::parse(&[0x01, 0xff, 0xff]), Err(CidError::BadVarint));
		// Text whose last base32 character carries non-zero padding bits.
		let mut text = Cid::of_raw_bytes(b"x").to_text().into_bytes();
		*text.last_mut().unwrap() = b'7';
		assert_eq!(Cid::parse(&text), Err(CidError::BadEncoding));
	}
}
