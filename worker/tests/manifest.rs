//! `scripts/kernels.py` writes the kernel record the chain takes: every manifest it exports reads
//! into the shared Rust type (`verity_primitives::kernel::KernelSpec` inside `Manifest`, unknown
//! fields refused) and writes back to the same JSON, field for field, and its archive CID is the
//! CID of the archive beside it.

mod common;

use common::kernels;
use verity_primitives::{cid::Cid, kernel::AggregationRule};
use verity_worker::kernel::{KernelDir, Manifest, Task};

#[test]
fn the_authoring_scripts_manifests_round_trip_through_the_shared_record_type() {
	for (name, task) in [("digits", Task::Classification), ("charlm", Task::NextToken)] {
		let dir = kernels().join(name);
		let json: serde_json::Value =
			serde_json::from_slice(&std::fs::read(dir.join("kernel.json")).unwrap()).unwrap();
		let manifest: Manifest = serde_json::from_value(json.clone()).unwrap();
		assert_eq!(
			serde_json::to_value(&manifest).unwrap(),
			json,
			"{name}: nothing lost or renamed"
		);
		assert_eq!(manifest.task, task);
		let opened = KernelDir::open(&dir).unwrap();
		assert_eq!(opened.manifest.record.archive, Cid::of_raw_bytes(&opened.archive), "{name}");
		assert_eq!(opened.manifest.record.rule, AggregationRule::QuantisedDigest { decimals: 3 });
		assert!(opened.manifest.record.rule.is_valid());
		assert!(opened.manifest.record.inference_flops > 0);
		assert_eq!(opened.manifest.record.train_flops, 3 * opened.manifest.record.inference_flops);
	}
}
