//! `verity-worker kernel`: a kernel directory's record as the chain will store it.

use anyhow::bail;
use codec::Encode;
use std::path::Path;
use verity_primitives::cid::Cid;
use verity_worker::{kernel::KernelDir, output::Output};

pub fn show(dir: &Path) -> anyhow::Result<()> {
	let kernel = KernelDir::open(dir)?;
	let record = &kernel.manifest.record;
	let actual = Cid::of_raw_bytes(&kernel.archive);
	if actual != record.archive {
		bail!("{}: the archive is {actual}, the record names {}", dir.display(), record.archive);
	}
	let encoded = format!("0x{}", hex::encode(record.encode()));
	Output::Kernel { id: record.id(), archive: record.archive, encoded }.print()?;
	Ok(())
}
