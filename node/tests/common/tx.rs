//! Signed extrinsics for node tests, built with the runtime's own types and sent over JSON-RPC,
//! and typed reads of runtime storage.

use codec::{Decode, Encode};
use polkadot_sdk::{
	frame_system, pallet_transaction_payment,
	sp_core::{crypto::Ss58Codec, sr25519, Pair, H256},
	sp_crypto_hashing::{blake2_128, twox_128},
	sp_runtime::{
		generic::Era, traits::IdentifyAccount, MultiAddress, MultiSignature, MultiSigner,
	},
};
use verity_runtime::{AccountId, Runtime, RuntimeCall, SignedPayload, UncheckedExtrinsic};

use super::Node;

/// The account of an sr25519 key.
pub fn account(pair: &sr25519::Pair) -> AccountId {
	MultiSigner::from(pair.public()).into_account()
}

/// The dev key `//{name}`.
pub fn dev_pair(name: &str) -> sr25519::Pair {
	sr25519::Pair::from_string(&format!("//{name}"), None).unwrap()
}

fn result(body: &str) -> serde_json::Value {
	let json: serde_json::Value = serde_json::from_str(body).unwrap();
	json["result"].clone()
}

fn from_hex(s: &str) -> Vec<u8> {
	hex::decode(s.trim_start_matches("0x")).unwrap()
}

/// Signs `call` with `signer` (immortal, no tip, next nonce from the node) and submits it to
/// `node`; returns the transaction hash or the node's error.
pub fn submit(node: &Node, signer: &sr25519::Pair, call: RuntimeCall) -> Result<String, String> {
	let who = account(signer);
	let nonce: u32 =
		result(&node.rpc("system_accountNextIndex", &format!(r#"["{}"]"#, who.to_ss58check()))?)
			.as_u64()
			.ok_or("no nonce")? as u32;
	let genesis = H256::from_slice(&from_hex(
		result(&node.rpc("chain_getBlockHash", "[0]")?).as_str().ok_or("no genesis")?,
	));
	let version = result(&node.rpc("state_getRuntimeVersion", "[]")?);
	let spec = version["specVersion"].as_u64().ok_or("no spec version")? as u32;
	let tx = version["transactionVersion"].as_u64().ok_or("no tx version")? as u32;

	let extension = (
		frame_system::CheckNonZeroSender::<Runtime>::new(),
		frame_system::CheckSpecVersion::<Runtime>::new(),
		frame_system::CheckTxVersion::<Runtime>::new(),
		frame_system::CheckGenesis::<Runtime>::new(),
		frame_system::CheckEra::<Runtime>::from(Era::Immortal),
		frame_system::CheckNonce::<Runtime>::from(nonce),
		frame_system::CheckWeight::<Runtime>::new(),
		pallet_transaction_payment::ChargeTransactionPayment::<Runtime>::from(0),
		frame_system::WeightReclaim::<Runtime>::new(),
	);
	let implicit = ((), spec, tx, genesis, genesis, (), (), (), ());
	let payload = SignedPayload::from_raw(call.clone(), extension.clone(), implicit);
	let signature = payload.using_encoded(|bytes| signer.sign(bytes));
	let xt = UncheckedExtrinsic::new_signed(
		call,
		MultiAddress::Id(who),
		MultiSignature::Sr25519(signature),
		extension,
	);
	let body =
		node.rpc("author_submitExtrinsic", &format!(r#"["0x{}"]"#, hex::encode(xt.encode())))?;
	Ok(result(&body).as_str().unwrap_or_default().to_string())
}

/// The value of storage item `pallet::item` (a plain `StorageValue`), decoded.
pub fn storage_value<T: Decode>(node: &Node, pallet: &str, item: &str) -> Option<T> {
	storage_value_at(node, pallet, item, None)
}

/// [`storage_value`] in the state of block `at` (the best block if `None`).
pub fn storage_value_at<T: Decode>(
	node: &Node,
	pallet: &str,
	item: &str,
	at: Option<&str>,
) -> Option<T> {
	storage(node, [twox_128(pallet.as_bytes()), twox_128(item.as_bytes())].concat(), at)
}

/// The value under `key` in storage map `pallet::item` (hashed with `Blake2_128Concat`), decoded.
pub fn storage_map<K: Encode, T: Decode>(
	node: &Node,
	pallet: &str,
	item: &str,
	key: &K,
) -> Option<T> {
	storage_map_at(node, pallet, item, key, None)
}

/// [`storage_map`] in the state of block `at` (the best block if `None`).
pub fn storage_map_at<K: Encode, T: Decode>(
	node: &Node,
	pallet: &str,
	item: &str,
	key: &K,
	at: Option<&str>,
) -> Option<T> {
	let encoded = key.encode();
	let key = [
		&twox_128(pallet.as_bytes())[..],
		&twox_128(item.as_bytes()),
		&blake2_128(&encoded),
		&encoded,
	]
	.concat();
	storage(node, key, at)
}

fn storage<T: Decode>(node: &Node, key: Vec<u8>, at: Option<&str>) -> Option<T> {
	let key = hex::encode(key);
	let params = match at {
		Some(hash) => format!(r#"["0x{key}", "{hash}"]"#),
		None => format!(r#"["0x{key}"]"#),
	};
	let body = node.rpc("state_getStorage", &params).ok()?;
	let value = result(&body);
	T::decode(&mut &from_hex(value.as_str()?)[..]).ok()
}

/// The hash of block `number` on the node's best chain.
pub fn block_hash(node: &Node, number: u64) -> Option<String> {
	let body = node.rpc("chain_getBlockHash", &format!("[{number}]")).ok()?;
	result(&body).as_str().map(Into::into)
}

/// The runtime events of block `at`.
pub fn events_at(node: &Node, at: &str) -> Vec<verity_runtime::RuntimeEvent> {
	type Records = Vec<frame_system::EventRecord<verity_runtime::RuntimeEvent, H256>>;
	storage_value_at::<Records>(node, "System", "Events", Some(at))
		.unwrap_or_default()
		.into_iter()
		.map(|r| r.event)
		.collect()
}

/// The validator that authored block `at`: the authority index of its BABE pre-digest in the
/// block's validator set.
pub fn block_author(node: &Node, at: &str) -> Option<AccountId> {
	use polkadot_sdk::{
		sp_consensus_babe::digests::CompatibleDigestItem, sp_runtime::generic::DigestItem,
	};
	let body = node.rpc("chain_getHeader", &format!(r#"["{at}"]"#)).ok()?;
	let logs = result(&body)["digest"]["logs"].as_array()?.clone();
	let index = logs.iter().find_map(|log| {
		let item = DigestItem::decode(&mut &from_hex(log.as_str()?)[..]).ok()?;
		item.as_babe_pre_digest().map(|d| d.authority_index())
	})?;
	let validators: Vec<AccountId> = storage_value_at(node, "Session", "Validators", Some(at))?;
	validators.get(usize::try_from(index).ok()?).cloned()
}

/// The current validator set (`Session::Validators`).
pub fn session_validators(node: &Node) -> Vec<AccountId> {
	storage_value(node, "Session", "Validators").unwrap_or_default()
}

/// New session keys in `node`'s keystore for `owner` and the proof of ownership
/// `session.set_keys` wants (`author_rotateKeysWithOwner`).
pub fn rotate_keys(node: &Node, owner: &AccountId) -> (verity_runtime::SessionKeys, Vec<u8>) {
	let owner_hex = format!("0x{}", hex::encode(AsRef::<[u8]>::as_ref(owner)));
	let body = node.rpc("author_rotateKeysWithOwner", &format!(r#"["{owner_hex}"]"#)).unwrap();
	let value = result(&body);
	let keys =
		verity_runtime::SessionKeys::decode(&mut &from_hex(value["keys"].as_str().unwrap())[..])
			.unwrap();
	(keys, from_hex(value["proof"].as_str().unwrap()))
}
