//! What the runtime's integration tests share: a preset's genesis in fresh externalities.

use polkadot_sdk::{
	frame_support::genesis_builder_helper::{build_state, get_preset},
	sp_genesis_builder::PresetId,
	sp_io::TestExternalities,
};
use verity_runtime::{genesis_config_presets, RuntimeGenesisConfig};

/// Merges a genesis patch into the default config, as the node does when it builds a chain spec.
fn merge(base: &mut serde_json::Value, patch: serde_json::Value) {
	match (base, patch) {
		(serde_json::Value::Object(base), serde_json::Value::Object(patch)) => {
			for (k, v) in patch {
				merge(base.entry(k).or_insert(serde_json::Value::Null), v);
			}
		}
		(base, patch) => *base = patch,
	}
}

/// Fresh externalities holding the genesis state of `preset` (e.g. `development`).
pub fn preset_genesis(preset: &str) -> TestExternalities {
	let default = get_preset::<RuntimeGenesisConfig>(&None, genesis_config_presets::get_preset)
		.expect("the default genesis config");
	let patch = get_preset::<RuntimeGenesisConfig>(
		&Some(PresetId::from(preset)),
		genesis_config_presets::get_preset,
	)
	.unwrap_or_else(|| panic!("preset {preset} exists"));
	let mut config: serde_json::Value = serde_json::from_slice(&default).unwrap();
	merge(&mut config, serde_json::from_slice(&patch).unwrap());
	let json = serde_json::to_vec(&config).unwrap();
	let mut ext = TestExternalities::new_empty();
	ext.execute_with(|| {
		build_state::<RuntimeGenesisConfig>(json).unwrap_or_else(|e| panic!("{preset}: {e}"));
	});
	ext
}
