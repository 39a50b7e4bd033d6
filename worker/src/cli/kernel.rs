//! `verity-worker kernel`: a kernel directory's record as the chain will store it.

use codec::Encode;
use std::path::Path;
use verity_worker::{kernel::KernelDir, output::Output};

pub fn show(dir: &Path) -> anyhow::Result<()> {
	let kernel = KernelDir::open(dir)?;
	kernel.manifest.check_archive(&kernel.archive)?;
	let record = &kernel.manifest.record;
	let encoded = format!("0x{}", hex::encode(record.encode()));
	Output::Kernel { id: record.id(), archive: record.archive, encoded }.print()?;
	Ok(())
}
