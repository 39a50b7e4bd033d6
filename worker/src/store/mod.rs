//! Content-addressed blob store: every blob (kernel archives, datasets, checkpoints, outputs) lives
//! under its CIDv1 (`raw` codec 0x55, sha2-256 multihash; [`verity_primitives::cid`]), one file per
//! blob named by the CID's base32 text. Bytes are checked against the CID when they are written
//! and again when they are read, so a corrupted or substituted file is an error, never data.
//! [`remote`] moves blobs between workers by CID (`/verity/blob/1`).

pub mod remote;

use std::{
	fs,
	io::Write,
	path::{Path, PathBuf},
	sync::atomic::{AtomicU64, Ordering},
};
use verity_primitives::cid::Cid;

/// Why a blob could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
	/// No blob with this CID in the store.
	#[error("blob {0} is not in the store")]
	NotFound(String),
	/// The bytes do not hash to the CID they were offered or stored under.
	#[error("blob bytes do not match their CID: expected {expected}, the bytes hash to {actual}")]
	Mismatch {
		/// The CID the bytes were supposed to have.
		expected: String,
		/// The CID the bytes have.
		actual: String,
	},
	/// A CID that does not parse.
	#[error("malformed CID {input:?}: {reason}")]
	BadCid {
		/// What was given.
		input: String,
		/// Why it was refused.
		reason: &'static str,
	},
	/// The file system failed.
	#[error("content store I/O at {path}: {source}")]
	Io {
		/// The file involved.
		path: PathBuf,
		/// The underlying error.
		source: std::io::Error,
	},
}

/// Parses a CID in text (`bafkrei…`) form with a clear error.
pub fn parse_cid(text: &str) -> Result<Cid, StoreError> {
	Cid::parse(text.trim().as_bytes())
		.map_err(|e| StoreError::BadCid { input: text.to_string(), reason: e.as_str() })
}

/// A directory of blobs named by their CIDs.
#[derive(Clone, Debug)]
pub struct ContentStore {
	dir: PathBuf,
}

impl ContentStore {
	/// Opens (creating if needed) a store in `dir`.
	pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
		let dir = dir.as_ref().to_path_buf();
		fs::create_dir_all(&dir).map_err(|source| StoreError::Io { path: dir.clone(), source })?;
		Ok(Self { dir })
	}

	/// Where the blob of `cid` lives (whether or not it exists).
	pub fn path_of(&self, cid: &Cid) -> PathBuf {
		self.dir.join(cid.to_text())
	}

	/// Whether the store holds `cid`.
	pub fn has(&self, cid: &Cid) -> bool {
		self.path_of(cid).exists()
	}

	/// Stores `bytes` and returns their CID. Idempotent.
	pub fn put(&self, bytes: &[u8]) -> Result<Cid, StoreError> {
		let cid = Cid::of_raw_bytes(bytes);
		self.write(&cid, bytes)?;
		Ok(cid)
	}

	/// Stores bytes that are supposed to have `cid` (a blob fetched from a peer): if they do not
	/// hash to `cid`, nothing is written.
	pub fn put_expected(&self, cid: &Cid, bytes: &[u8]) -> Result<(), StoreError> {
		check(cid, bytes)?;
		self.write(cid, bytes)
	}

	/// Reads the blob of `cid`, checking its bytes against the CID.
	pub fn get(&self, cid: &Cid) -> Result<Vec<u8>, StoreError> {
		let path = self.path_of(cid);
		let bytes = fs::read(&path).map_err(|source| {
			if source.kind() == std::io::ErrorKind::NotFound {
				StoreError::NotFound(cid.to_text())
			} else {
				StoreError::Io { path: path.clone(), source }
			}
		})?;
		check(cid, &bytes)?;
		Ok(bytes)
	}

	/// Removes the blob of `cid` (a local copy found corrupt), if there is one.
	pub fn discard(&self, cid: &Cid) -> Result<(), StoreError> {
		let path = self.path_of(cid);
		match fs::remove_file(&path) {
			Err(source) if source.kind() != std::io::ErrorKind::NotFound => {
				Err(StoreError::Io { path, source })
			}
			_ => Ok(()),
		}
	}

	/// Stores the file at `path` and returns its CID.
	pub fn put_file(&self, path: impl AsRef<Path>) -> Result<Cid, StoreError> {
		let path = path.as_ref();
		let bytes =
			fs::read(path).map_err(|source| StoreError::Io { path: path.to_path_buf(), source })?;
		self.put(&bytes)
	}

	fn write(&self, cid: &Cid, bytes: &[u8]) -> Result<(), StoreError> {
		let path = self.path_of(cid);
		if path.exists() {
			return Ok(());
		}
		// Write to a temporary name and rename: a crash leaves no half-written blob under a CID.
		// The name is this write's own, so that two writers of one blob (two audits fetching the
		// same step chain) never rename each other's file away.
		static WRITES: AtomicU64 = AtomicU64::new(0);
		let n = WRITES.fetch_add(1, Ordering::Relaxed);
		let tmp = self.dir.join(format!(".{}.{}.{n}.tmp", cid.to_text(), std::process::id()));
		let io = |source| StoreError::Io { path: tmp.clone(), source };
		let mut f = fs::File::create(&tmp).map_err(io)?;
		f.write_all(bytes).map_err(io)?;
		f.sync_all().map_err(io)?;
		fs::rename(&tmp, &path).map_err(|source| StoreError::Io { path: path.clone(), source })
	}
}

/// Checks that `bytes` hash to `cid`.
pub fn check(cid: &Cid, bytes: &[u8]) -> Result<(), StoreError> {
	let actual = Cid::of_raw_bytes(bytes);
	if actual.digest != cid.digest {
		return Err(StoreError::Mismatch { expected: cid.to_text(), actual: actual.to_text() });
	}
	Ok(())
}

#[cfg(test)]
mod tests {
	use super::*;

	/// Two audits fetching the same step chain store it at once: both writes succeed.
	#[test]
	fn concurrent_writers_of_one_blob_both_succeed() {
		let dir = tempfile::tempdir().unwrap();
		let store = ContentStore::open(dir.path()).unwrap();
		let blob = vec![7u8; 1 << 20];
		let cid = Cid::of_raw_bytes(&blob);
		std::thread::scope(|s| {
			let writers: Vec<_> =
				(0..8).map(|_| s.spawn(|| store.put_expected(&cid, &blob))).collect();
			for w in writers {
				w.join().unwrap().unwrap();
			}
		});
		assert_eq!(store.get(&cid).unwrap(), blob);
	}

	#[test]
	fn put_get_and_cid_matches_the_cid_crate() {
		let dir = tempfile::tempdir().unwrap();
		let store = ContentStore::open(dir.path()).unwrap();
		let cid = store.put(b"hello").unwrap();
		assert_eq!(cid.to_text(), "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq");
		// The same CID as the reference implementation (`cid` + `multihash` crates) computes.
		let reference = ::cid::Cid::try_from(cid.to_text().as_str()).unwrap();
		assert_eq!(reference.codec(), 0x55);
		assert_eq!(reference.hash().code(), 0x12);
		assert_eq!(reference.hash().digest(), cid.digest.as_bytes());
		assert_eq!(reference.to_bytes(), cid.to_bytes().to_vec());
		assert_eq!(store.get(&cid).unwrap(), b"hello");
		assert!(store.has(&cid));
	}

	#[test]
	fn corrupted_blob_is_an_error_on_read() {
		let dir = tempfile::tempdir().unwrap();
		let store = ContentStore::open(dir.path()).unwrap();
		let cid = store.put(b"checkpoint bytes").unwrap();
		fs::write(store.path_of(&cid), b"checkpoint bytez").unwrap();
		assert!(matches!(store.get(&cid), Err(StoreError::Mismatch { .. })));
	}

	#[test]
	fn fetched_bytes_that_do_not_match_are_not_written() {
		let dir = tempfile::tempdir().unwrap();
		let store = ContentStore::open(dir.path()).unwrap();
		let cid = Cid::of_raw_bytes(b"the real blob");
		let err = store.put_expected(&cid, b"a forged blob").unwrap_err();
		assert!(err.to_string().contains("do not match their CID"), "{err}");
		assert!(!store.has(&cid));
		assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
		assert!(matches!(store.get(&cid), Err(StoreError::NotFound(_))));
		assert!(matches!(parse_cid("Qmfoo"), Err(StoreError::BadCid { .. })));
	}
}
