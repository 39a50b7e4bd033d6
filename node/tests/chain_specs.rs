//! The committed chain-spec files in `chain-spec/` match what the runtime presets generate now.
//! Run `scripts/gen-chain-specs.sh` after changing a preset.
//!
//! The runtime code inside a spec is left out of the comparison: it changes with every runtime
//! build, and a launched network's genesis code is fixed anyway (the chain upgrades on chain).

mod common;

use common::{run_node, workspace_root};
use serde_json::Value;

/// The raw storage key of the runtime code, `:code`.
const CODE_KEY: &str = "0x3a636f6465";

fn without_code(mut spec: Value) -> Value {
	if let Some(genesis) =
		spec.pointer_mut("/genesis/runtimeGenesis").and_then(Value::as_object_mut)
	{
		genesis.remove("code");
	}
	if let Some(top) = spec.pointer_mut("/genesis/raw/top").and_then(Value::as_object_mut) {
		top.remove(CODE_KEY);
	}
	spec
}

fn assert_matches(chain: &str, raw: bool, file: &str) {
	let mut args = vec!["export-chain-spec", "--chain", chain];
	if raw {
		args.push("--raw");
	}
	let (status, generated, stderr) = run_node(&args);
	assert!(status.success(), "export-chain-spec {chain}: {stderr}");
	let generated: Value = serde_json::from_str(&generated).unwrap();
	let path = workspace_root().join("chain-spec").join(file);
	let committed = std::fs::read_to_string(&path)
		.unwrap_or_else(|e| panic!("{}: {e}; run scripts/gen-chain-specs.sh", path.display()));
	let committed: Value = serde_json::from_str(&committed).unwrap();
	assert!(
		without_code(generated) == without_code(committed),
		"chain-spec/{file} has drifted from the `{chain}` preset; run scripts/gen-chain-specs.sh"
	);
}

#[test]
fn dev_spec_matches_preset() {
	assert_matches("dev", false, "dev.json");
}

#[test]
fn local_spec_matches_preset() {
	assert_matches("local", false, "local.json");
}

#[test]
fn testnet_specs_match_preset() {
	assert_matches("testnet", false, "testnet.json");
	assert_matches("testnet", true, "testnet-raw.json");
}

#[test]
fn committed_testnet_raw_spec_loads() {
	let path = workspace_root().join("chain-spec/testnet-raw.json");
	let (status, _, stderr) =
		run_node(&["export-chain-spec", "--raw", "--chain", path.to_str().unwrap()]);
	assert!(status.success(), "{stderr}");
}
