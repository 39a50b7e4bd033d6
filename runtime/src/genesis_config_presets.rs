//! Genesis presets: the starting state of the `development`, `local_testnet` and `testnet` chains,
//! as JSON patches over the default genesis config. The node's chain specs only name these.

use crate::{
	configs::TreasuryAccount,
	currency::{MILLI_VER, VER},
	time::{DAYS, HOURS},
	AccountId, Balance, BlockNumber, RuntimeGenesisConfig, SessionKeys, BABE_GENESIS_EPOCH_CONFIG,
	EXISTENTIAL_DEPOSIT,
};
use alloc::{format, vec, vec::Vec};
use pallet_aivm_registry::DeviceClass;
use pallet_marketplace::{ClassId, MarketParams, ResourceClass};
use pallet_proof_of_compute::PocParams;
use pallet_staking_governance::Params;
use polkadot_sdk::{
	frame_support::{build_struct_json_patch, BoundedVec},
	sp_core::{crypto::get_public_from_string_or_panic, ed25519, sr25519},
	sp_genesis_builder::{self, PresetId},
	sp_keyring::Sr25519Keyring,
	sp_runtime::Perbill,
	*,
};
use serde_json::Value;

/// Preset name of the public test network.
pub const TESTNET_RUNTIME_PRESET: &str = "testnet";

/// What every endowed account starts with: 1 million VER.
pub const ENDOWMENT: Balance = 1_000_000 * VER;

/// What each genesis validator bonds: 100,000 VER (a tenth of its endowment).
pub const VALIDATOR_BOND: Balance = 100_000 * VER;

/// Staking and governance parameters shared by the presets; each preset sets its own voting
/// periods. Unbonding takes the runtime's shortest period everywhere (eight days): stake must
/// outlast a job and its verification, on a dev chain too (security review, finding 19).
fn params(
	validator_count: u32,
	min_validator_count: u32,
	voting_period: BlockNumber,
	enactment_delay: BlockNumber,
	min_turnout: Perbill,
) -> Params<Balance, BlockNumber> {
	Params {
		validator_count,
		min_validator_count,
		min_validator_bond: 10_000 * VER,
		min_provider_bond: 1_000 * VER,
		unbonding_period: crate::configs::MIN_UNBONDING_PERIOD,
		voting_period,
		enactment_delay,
		min_turnout,
		min_approval: Perbill::from_percent(50),
		proposal_deposit: 100 * VER,
	}
}

/// Market parameters shared by the presets; each preset sets its own windows (blocks).
fn market_params(
	accept_window: BlockNumber,
	heartbeat_interval: BlockNumber,
) -> MarketParams<Balance, BlockNumber> {
	MarketParams {
		accept_window,
		heartbeat_interval,
		missed_deadline_penalty: 10 * VER,
		protocol_fee: Perbill::from_percent(1),
		verification_margin: Perbill::from_percent(20),
		index_smoothing: Perbill::from_percent(10),
		supply_horizon_secs: 3_600,
		load_tolerance_secs: 600,
		max_reassignments: 3,
		collateral_percent: 200,
	}
}

/// The resource classes at genesis, priced per WU (10^12 FLOPs): index bounds are 1/100 and 100×
/// the base price. Governance adds more with `marketplace.setResourceClass`.
fn resource_classes() -> Vec<(ClassId, ResourceClass<Balance>)> {
	let class = |name: &str, base: Balance, device| ResourceClass {
		name: BoundedVec::truncate_from(name.as_bytes().to_vec()),
		base_price: base,
		min_price: base / 100,
		max_price: base.saturating_mul(100),
		device,
	};
	vec![
		(0, class("cpu", 10 * MILLI_VER, DeviceClass::Cpu)),
		(1, class("consumer-gpu", 5 * MILLI_VER, DeviceClass::Cuda)),
		(2, class("datacenter-gpu", 3 * MILLI_VER, DeviceClass::Cuda)),
	]
}

/// Verification parameters shared by the presets; each preset sets its own windows (blocks).
fn poc_params(window: BlockNumber, epoch_window: BlockNumber) -> PocParams<BlockNumber> {
	PocParams {
		commit_window: window,
		reveal_window: window,
		training_committee: 3,
		max_committee: 16,
		dissent_slash: Perbill::from_percent(10),
		no_reveal_slash: Perbill::from_percent(5),
		max_reruns: 2,
		audits_per_epoch: 4,
		audit_committee: 3,
		epoch_window,
	}
}

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
	params: Params<Balance, BlockNumber>,
	market: MarketParams<Balance, BlockNumber>,
	poc: PocParams<BlockNumber>,
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
	// The treasury account (protocol fees, slashed stake) exists from genesis, so fees below the
	// existential deposit can be paid into it.
	balances.push((TreasuryAccount::get(), EXISTENTIAL_DEPOSIT));
	// Genesis validators start bonded as candidates, so the first election re-elects them.
	let stakers: Vec<(AccountId, Balance, bool)> =
		session_keys.iter().map(|(a, _, _)| (a.clone(), VALIDATOR_BOND, true)).collect();
	build_struct_json_patch!(RuntimeGenesisConfig {
		balances: pallet_balances::GenesisConfig { balances },
		babe: pallet_babe::GenesisConfig { epoch_config: BABE_GENESIS_EPOCH_CONFIG },
		session: pallet_session::GenesisConfig { keys: session_keys },
		sudo: pallet_sudo::GenesisConfig { key: root },
		staking_governance: pallet_staking_governance::GenesisConfig { stakers, params },
		marketplace: pallet_marketplace::GenesisConfig {
			classes: resource_classes(),
			params: Some(market),
		},
		proof_of_compute: pallet_proof_of_compute::GenesisConfig { params: Some(poc) },
	})
}

/// `development`: one validator (Alice), the well-known dev accounts endowed, Alice is sudo.
/// Governance is quick: 5 blocks of voting, 2 of enactment delay.
pub fn development_config_genesis() -> Value {
	genesis(
		vec![dev_validator("Alice")],
		Sr25519Keyring::well_known().map(|k| k.to_account_id()).collect(),
		Some(Sr25519Keyring::Alice.to_account_id()),
		params(4, 1, 5, 2, Perbill::from_percent(10)),
		market_params(5, 10),
		poc_params(10, 10),
	)
}

/// `local_testnet`: four validators (Alice, Bob, Charlie, Dave) on one machine, room for a fifth
/// to join by stake; at least three (GRANDPA needs more than 2/3 online).
pub fn local_config_genesis() -> Value {
	genesis(
		["Alice", "Bob", "Charlie", "Dave"].into_iter().map(dev_validator).collect(),
		Sr25519Keyring::well_known().map(|k| k.to_account_id()).collect(),
		Some(Sr25519Keyring::Alice.to_account_id()),
		params(5, 3, 10, 2, Perbill::from_percent(10)),
		market_params(5, 10),
		poc_params(10, 10),
	)
}

/// `testnet`: four validators with their own keys (`//verity-testnet-validator-N`, which operators
/// replace by rotating keys with `author_rotateKeys` + `session.setKeys`), a faucet account, and
/// no sudo key: parameters and upgrades change only by stake-weighted vote.
pub fn testnet_config_genesis() -> Value {
	let validators: Vec<GenesisValidator> =
		(1..=4).map(|i| dev_validator(&format!("verity-testnet-validator-{i}"))).collect();
	let faucet: AccountId =
		get_public_from_string_or_panic::<sr25519::Public>("verity-testnet-faucet").into();
	genesis(
		validators,
		vec![faucet],
		None,
		params(10, 3, DAYS, HOURS, Perbill::from_percent(20)),
		market_params(10, 50),
		poc_params(50, 50),
	)
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
