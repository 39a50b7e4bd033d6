//! The worker's chain client is generated (subxt) from `worker/metadata/verity.scale`; this test
//! fails when that file no longer is the runtime's metadata. After changing a call, an event, a
//! storage item or a type the worker may use, regenerate it with
//! `VERITY_UPDATE_METADATA=1 cargo test -p verity-runtime --test metadata` (or
//! `scripts/gen-metadata.sh`) and rebuild the worker.

use std::path::PathBuf;
use verity_runtime::Runtime;

/// The metadata version the worker's client is generated from.
const VERSION: u32 = 16;

#[test]
fn worker_metadata_is_the_runtimes() {
	let metadata = Runtime::metadata_at_version(VERSION)
		.unwrap_or_else(|| panic!("the runtime serves no metadata v{VERSION}"));
	let now: &[u8] = &metadata;
	let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../worker/metadata/verity.scale");
	if std::env::var_os("VERITY_UPDATE_METADATA").is_some() {
		std::fs::write(&path, now).unwrap();
		return;
	}
	let committed = std::fs::read(&path)
		.unwrap_or_else(|e| panic!("{}: {e}; run scripts/gen-metadata.sh", path.display()));
	assert!(
		committed == now,
		"worker/metadata/verity.scale has drifted from the runtime ({} bytes committed, {} now); \
		 run scripts/gen-metadata.sh and rebuild the worker",
		committed.len(),
		now.len()
	);
}
