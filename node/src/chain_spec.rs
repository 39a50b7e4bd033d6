//! Chain specifications. Each names a runtime genesis preset; the genesis itself lives in the
//! runtime (`genesis_config_presets.rs`), so the node and the committed JSON files in
//! `chain-spec/` cannot disagree with it.

use polkadot_sdk::{
	sc_service::{self, ChainType, Properties},
	sp_genesis_builder::{DEV_RUNTIME_PRESET, LOCAL_TESTNET_RUNTIME_PRESET},
};
use verity_runtime::{
	currency::{SS58_PREFIX, TOKEN_DECIMALS, TOKEN_SYMBOL},
	genesis_config_presets::TESTNET_RUNTIME_PRESET,
	WASM_BINARY,
};

/// The chain spec type of this node.
pub type ChainSpec = sc_service::GenericChainSpec;

/// Token symbol, decimals and address format, as wallets read them from `system_properties`.
pub fn properties() -> Properties {
	let mut p = Properties::new();
	p.insert("tokenSymbol".into(), TOKEN_SYMBOL.into());
	p.insert("tokenDecimals".into(), TOKEN_DECIMALS.into());
	p.insert("ss58Format".into(), SS58_PREFIX.into());
	p
}

fn spec(name: &str, id: &str, chain_type: ChainType, preset: &str) -> Result<ChainSpec, String> {
	let wasm = WASM_BINARY.ok_or_else(|| {
		"the runtime wasm was not built (was SKIP_WASM_BUILD set?); rebuild without it".to_string()
	})?;
	Ok(ChainSpec::builder(wasm, Default::default())
		.with_name(name)
		.with_id(id)
		.with_protocol_id("verity")
		.with_chain_type(chain_type)
		.with_genesis_config_preset_name(preset)
		.with_properties(properties())
		.build())
}

/// `dev`: one validator (Alice), finalising alone.
pub fn development_chain_spec() -> Result<ChainSpec, String> {
	spec("Verity Development", "verity_dev", ChainType::Development, DEV_RUNTIME_PRESET)
}

/// `local`: four validators (Alice, Bob, Charlie, Dave) on one machine.
pub fn local_chain_spec() -> Result<ChainSpec, String> {
	spec("Verity Local Testnet", "verity_local", ChainType::Local, LOCAL_TESTNET_RUNTIME_PRESET)
}

/// `testnet`: the public test network.
pub fn testnet_chain_spec() -> Result<ChainSpec, String> {
	spec("Verity Testnet", "verity_testnet", ChainType::Live, TESTNET_RUNTIME_PRESET)
}

/// Resolves `--chain`: a built-in name or the path of a chain-spec JSON file.
pub fn load(id: &str) -> Result<Box<dyn sc_service::ChainSpec>, String> {
	Ok(match id {
		"dev" => Box::new(development_chain_spec()?),
		"" | "local" => Box::new(local_chain_spec()?),
		"testnet" => Box::new(testnet_chain_spec()?),
		path => {
			let path = std::path::PathBuf::from(path);
			if !path.is_file() {
				return Err(format!(
					"unknown chain `{id}`: not one of dev, local, testnet, and no chain-spec file at that path"
				));
			}
			let spec = ChainSpec::from_json_file(path.clone())
				.map_err(|e| format!("invalid chain spec {}: {e}", path.display()))?;
			Box::new(spec)
		}
	})
}
