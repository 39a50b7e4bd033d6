//! Genesis presets: the starting state of the `development`, `local_testnet` and `testnet` chains,
//! as JSON patches over the default genesis config. The node's chain specs only name these.

use crate::{
	currency::VER, AccountId, Balance, RuntimeGenesisConfig, SessionKeys, BABE_GENESIS_EPOCH_CONFIG,
};
use alloc::{format, vec, vec::Vec};
use polkadot_sdk::{
	frame_support::build_struct_json_patch,
	sp_core::{crypto::get_public_from_string_or_panic, ed25519, sr25519},
	sp_genesis_builder::{self, PresetId},
	sp_keyring::Sr25519Keyring,
	*,
};
use serde_json::Value;

/// Preset name of the public test network.
pub const TESTNET_RUNTIME_PRESET: &str = "testnet";

/// What every endowed account starts with: 1 million VER.
pub const ENDOWMENT: Balance = 1_000_000 * VER;

/// A validator at genesis: its stash account and its session keys.
pub struct GenesisValidator {
	pub account: AccountId,
	pub keys: SessionKeys,
}

/// Session keys of the dev secret URI `//{name}` (e.g. `Alice`): sr25519 for BABE, ed25519 for
/// GRANDPA, the keys `verity-node --alice` puts in its keystore.
pub fn dev_session_keys(name: &str) -> SessionKeys {
	SessionKeys {
		babe: get_public_from_string_or_panic::<sr25519::Public>(name).into(),
		grandpa: get_public_from_string_or_panic::<ed25519::Public>(name).into(),
	}
}

/// A genesis validator whose account and session keys derive from `//{name}`.
pub fn dev_validator(name: &str) -> GenesisValidator {
	let account: sr25519::Public = get_public_from_string_or_panic::<sr25519::Public>(name);
	GenesisValidator { account: account.into(), keys: dev_session_keys(name) }
}

fn genesis(
	validators: Vec<GenesisValidator>,
	endowed: Vec<AccountId>,
	root: Option<AccountId>,
) -> Value {
	let session_keys: Vec<(AccountId, AccountId, SessionKeys)> =
		validators.into_iter().map(|v| (v.account.clone(), v.account, v.keys)).collect();
	let mut balances: Vec<(AccountId, Balance)> =
		endowed.into_iter().map(|a| (a, ENDOWMENT)).collect();
	// Validators must be able to pay fees for `session.setKeys` and later bonding.
	for (account, _, _) in &session_keys {
		if !balances.iter().any(|(a, _)| a == account) {
			balances.push((account.clone(), ENDOWMENT));
		}
	}
	build_struct_json_patch!(RuntimeGenesisConfig {
		balances: pallet_balances::GenesisConfig { balances },
		babe: pallet_babe::GenesisConfig { epoch_config: BABE_GENESIS_EPOCH_CONFIG },
		session: pallet_session::GenesisConfig { keys: session_keys },
		sudo: pallet_sudo::GenesisConfig { key: root },
	})
}

/// `development`: one validator (Alice), the well-known dev accounts endowed, Alice is sudo.
pub fn development_config_genesis() -> Value {
	genesis(
		vec![dev_validator("Alice")],
		Sr25519Keyring::well_known().map(|k| k.to_account_id()).collect(),
		Some(Sr25519Keyring::Alice.to_account_id()),
	)
}

/// `local_testnet`: four validators (Alice, Bob, Charlie, Dave) on one machine.
pub fn local_config_genesis() -> Value {
	genesis(
		["Alice", "Bob", "Charlie", "Dave"].into_iter().map(dev_validator).collect(),
		Sr25519Keyring::well_known().map(|k| k.to_account_id()).collect(),
		Some(Sr25519Keyring::Alice.to_account_id()),
	)
}

/// `testnet`: four validators with their own keys (`//verity-testnet-validator-N`, which operators
/// replace by rotating keys with `author_rotateKeys` + `session.setKeys`), a faucet account, and
/// a sudo key that governance replaces.
pub fn testnet_config_genesis() -> Value {
	let validators: Vec<GenesisValidator> =
		(1..=4).map(|i| dev_validator(&format!("verity-testnet-validator-{i}"))).collect();
	let faucet: AccountId =
		get_public_from_string_or_panic::<sr25519::Public>("verity-testnet-faucet").into();
	let root: AccountId =
		get_public_from_string_or_panic::<sr25519::Public>("verity-testnet-root").into();
	genesis(validators, vec![faucet, root.clone()], Some(root))
}

/// The JSON patch for a preset, or `None` for an unknown name.
pub fn get_preset(id: &PresetId) -> Option<Vec<u8>> {
	let patch = match id.as_ref() {
		sp_genesis_builder::DEV_RUNTIME_PRESET => development_config_genesis(),
		sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET => local_config_genesis(),
		TESTNET_RUNTIME_PRESET => testnet_config_genesis(),
		_ => return None,
	};
	serde_json::to_vec_pretty(&patch).ok()
}

/// Names of the presets this runtime provides.
pub fn preset_names() -> Vec<PresetId> {
	vec![
		PresetId::from(sp_genesis_builder::DEV_RUNTIME_PRESET),
		PresetId::from(sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET),
		PresetId::from(TESTNET_RUNTIME_PRESET),
	]
}
