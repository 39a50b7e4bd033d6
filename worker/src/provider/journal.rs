//! What the provider must remember across a restart, written to disk before the transaction
//! that depends on it is sent: the result it computed for a task (submitted next), and for each
//! committee round its digest, output and commit nonce (committed next, revealed later). A
//! worker killed at any point and restarted reveals what it committed, resumes what it accepted,
//! and never sends a second, different commitment.
//!
//! The file is JSON, replaced atomically (written beside, synced, renamed, directory synced).

use serde::{Deserialize, Serialize};
use std::{
	collections::BTreeMap,
	io::Write,
	path::{Path, PathBuf},
};

/// A kernel run's result, as it is submitted and revealed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Computed {
	/// CID of the output blob (in the worker's store).
	pub output: String,
	/// The digest under the kernel's rule, 0x-hex.
	pub digest: String,
	/// The summary vector (numeric tolerance only).
	pub summary: Vec<i64>,
}

/// A task assigned to this worker.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRecord {
	/// Its result, once computed (and stored). For a training task: the final checkpoint's CID
	/// and the digest of its outputs on the task's shard (what its verification round compares).
	pub computed: Option<Computed>,
	/// A training task's finished epochs, in order (committed on chain one after the other).
	#[serde(default, skip_serializing_if = "Vec::is_empty")]
	pub epochs: Vec<EpochEntry>,
}

/// One trained epoch, as it is committed on chain; or, for a task taken over from another
/// provider, one of the predecessor's epochs as the chain names it (`leaves` empty; its checkpoint
/// is fetched from the group when the session joins there).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochEntry {
	/// The checkpoint at the end of the epoch (CID text, in the store).
	pub checkpoint: String,
	/// Merkle root of this member's step chain, 0x-hex.
	pub root: String,
	/// Steps (leaves).
	pub steps: u32,
	/// CID text of the step chain ([`crate::steps::StepChain`], in the store with its states):
	/// leaves are revealed from it and auditors fetch it.
	pub leaves: String,
}

/// One of this worker's training steps drawn for an audit: its leaf is revealed with a proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditDuty {
	/// The audited task (this worker's).
	pub task: u64,
	/// The epoch.
	pub epoch: u32,
	/// The step (leaf index).
	pub step: u32,
}

/// A committee round this worker was drawn for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundRecord {
	/// The task whose result the round verifies.
	pub task: u64,
	/// This worker's own run of it.
	pub computed: Option<Computed>,
	/// The commitment's nonce, 0x-hex: chosen and saved before the commitment is sent.
	pub nonce: Option<String>,
	/// For a training audit's round: the audit (the step is replayed, not the task run).
	#[serde(default, skip_serializing_if = "Option::is_none")]
	pub audit: Option<u64>,
}

/// Everything the provider keeps on disk.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Journal {
	/// Tasks by id.
	pub tasks: BTreeMap<u64, TaskRecord>,
	/// Rounds by id.
	pub rounds: BTreeMap<u64, RoundRecord>,
	/// Audits of this worker's training steps, by audit id, until they end.
	#[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
	pub audits: BTreeMap<u64, AuditDuty>,
}

/// A journal bound to its file.
pub struct JournalFile {
	path: PathBuf,
	/// The state.
	pub state: Journal,
}

impl JournalFile {
	/// Opens `path`, or starts empty if it does not exist.
	pub fn open(path: &Path) -> std::io::Result<Self> {
		let state = match std::fs::read(path) {
			Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
				std::io::Error::new(
					std::io::ErrorKind::InvalidData,
					format!("{}: not a provider journal: {e}", path.display()),
				)
			})?,
			Err(e) if e.kind() == std::io::ErrorKind::NotFound => Journal::default(),
			Err(e) => return Err(e),
		};
		Ok(JournalFile { path: path.into(), state })
	}

	/// Writes the state durably: after this returns, a crash leaves this state on disk.
	pub fn save(&self) -> std::io::Result<()> {
		let tmp = self.path.with_extension("json.tmp");
		let mut f = std::fs::File::create(&tmp)?;
		f.write_all(&serde_json::to_vec_pretty(&self.state).map_err(std::io::Error::other)?)?;
		f.sync_all()?;
		std::fs::rename(&tmp, &self.path)?;
		if let Some(dir) = self.path.parent() {
			std::fs::File::open(dir)?.sync_all()?;
		}
		Ok(())
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn a_saved_journal_reads_back_and_a_foreign_file_is_refused() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("journal.json");
		let mut j = JournalFile::open(&path).unwrap();
		assert_eq!(j.state, Journal::default());
		j.state.rounds.insert(
			3,
			RoundRecord {
				task: 1,
				computed: Some(Computed {
					output: "bafk".into(),
					digest: "0x01".into(),
					summary: vec![],
				}),
				nonce: Some("0x02".into()),
				audit: Some(4),
			},
		);
		j.state.audits.insert(4, AuditDuty { task: 1, epoch: 0, step: 2 });
		j.save().unwrap();
		assert_eq!(JournalFile::open(&path).unwrap().state, j.state);
		std::fs::write(&path, b"{\"other\": 1}").unwrap();
		assert!(JournalFile::open(&path).is_err());
	}
}
