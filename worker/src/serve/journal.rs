//! The serving journal: one line per answered request (its hash, the voucher that paid for it and
//! the buyer's signature), appended and synced to disk before the response leaves. A restart
//! replays it to rebuild every channel's request log and latest voucher, so whatever was answered
//! is redeemed. Appends from concurrent requests share one `fdatasync` (group commit) on a thread
//! of their own.

use super::book::Served;
use crate::error::{invalid, Result};
use codec::Encode;
use polkadot_sdk::{sp_core::H256, sp_runtime::MultiSignature};
use serde::{Deserialize, Serialize};
use std::{
	collections::HashMap,
	io::{BufRead, Write},
	path::Path,
	sync::mpsc,
};
use tokio::sync::oneshot;
use verity_primitives::voucher::Voucher;

/// One answered request.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Line {
	/// The request hash (`0x` hex).
	pub request: String,
	/// The SCALE-encoded voucher (`0x` hex).
	pub voucher: String,
	/// The SCALE-encoded signature (`0x` hex).
	pub signature: String,
}

impl Line {
	/// The line for `request` paid by `voucher`.
	pub fn new(request: &H256, voucher: &Voucher<u128>, signature: &MultiSignature) -> Self {
		Line {
			request: format!("{request:?}"),
			voucher: format!("0x{}", hex::encode(voucher.encode())),
			signature: format!("0x{}", hex::encode(signature.encode())),
		}
	}
}

type Pending = (Vec<u8>, oneshot::Sender<std::io::Result<()>>);

/// Appends lines from any task; each append resolves once its line is on disk.
#[derive(Clone)]
pub struct Journal {
	tx: mpsc::Sender<Pending>,
}

impl Journal {
	/// Opens (creating) the journal at `path`, replays it, and starts its writer thread.
	pub fn open(path: &Path) -> Result<(Journal, HashMap<H256, Served>)> {
		let served = replay(path)?;
		let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
		// A line torn by a crash is ended, so the next append starts a line of its own.
		let bytes = std::fs::read(path)?;
		if bytes.last().is_some_and(|b| *b != b'\n') {
			file.write_all(b"\n")?;
		}
		let (tx, rx) = mpsc::channel::<Pending>();
		std::thread::Builder::new().name("serve-journal".into()).spawn(move || {
			while let Ok(first) = rx.recv() {
				let mut batch = vec![first];
				batch.extend(rx.try_iter());
				let mut bytes = Vec::new();
				for (line, _) in &batch {
					bytes.extend_from_slice(line);
				}
				let written = file.write_all(&bytes).and_then(|()| file.sync_data());
				for (_, done) in batch {
					let _ = done.send(match &written {
						Ok(()) => Ok(()),
						Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
					});
				}
			}
		})?;
		Ok((Journal { tx }, served))
	}

	/// Appends `line`; resolves once it is synced.
	pub async fn append(&self, line: &Line) -> Result<()> {
		let mut bytes = serde_json::to_vec(line)?;
		bytes.push(b'\n');
		let (done, wait) = oneshot::channel();
		self.tx.send((bytes, done)).map_err(|_| invalid!("the journal writer stopped"))?;
		wait.await.map_err(|_| invalid!("the journal writer stopped"))??;
		Ok(())
	}
}

/// Rebuilds each channel's log from the journal. A line that does not continue its channel's log
/// (a torn last line after a crash, or a duplicate) is skipped with a warning.
fn replay(path: &Path) -> Result<HashMap<H256, Served>> {
	let mut served: HashMap<H256, Served> = HashMap::new();
	let file = match std::fs::File::open(path) {
		Ok(f) => f,
		Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(served),
		Err(e) => return Err(e.into()),
	};
	for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
		let line = line?;
		let parsed = serde_json::from_str::<Line>(&line).map_err(|e| e.to_string()).and_then(|l| {
			Ok((
				super::protocol::decode_hex::<H256>(&l.request)?,
				super::protocol::decode_hex::<Voucher<u128>>(&l.voucher)?,
				super::protocol::decode_hex::<MultiSignature>(&l.signature)?,
			))
		});
		let (request, voucher, signature) = match parsed {
			Ok(p) => p,
			Err(e) => {
				tracing::warn!(line = n + 1, error = %e, path = %path.display(), "skipping an unreadable journal line");
				continue;
			}
		};
		let s = served.entry(voucher.channel).or_default();
		if voucher.nonce != s.log.count() + 1 {
			tracing::warn!(
				line = n + 1,
				nonce = voucher.nonce,
				"skipping a journal line out of order"
			);
			continue;
		}
		s.log.push(&request);
		s.latest = Some((voucher, signature));
	}
	Ok(served)
}

#[cfg(test)]
mod tests {
	use super::*;
	use polkadot_sdk::sp_core::{sr25519, Pair};
	use verity_primitives::{merkle::RequestLog, voucher::sign::sign_voucher};

	#[tokio::test]
	async fn what_was_appended_is_replayed_and_a_torn_line_is_skipped() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("serving.jsonl");
		let alice = sr25519::Pair::from_string("//Alice", None).unwrap();
		let channel = H256::repeat_byte(1);
		let mut log = RequestLog::new();
		{
			let (journal, served) = Journal::open(&path).unwrap();
			assert!(served.is_empty());
			for i in 1..=3u8 {
				let r = H256::repeat_byte(i);
				log.push(&r);
				let v = Voucher {
					channel,
					cumulative: 10 * u128::from(i),
					nonce: log.count(),
					requests_root: log.root(),
				};
				let sig = sign_voucher(&alice, &H256::zero(), &v);
				journal.append(&Line::new(&r, &v, &sig)).await.unwrap();
			}
		}
		std::fs::OpenOptions::new()
			.append(true)
			.open(&path)
			.unwrap()
			.write_all(b"{\"request\":\"0x12")
			.unwrap();
		let (_, served) = Journal::open(&path).unwrap();
		let s = &served[&channel];
		assert_eq!(s.log, log);
		assert_eq!(s.cumulative(), 30);
		assert_eq!(s.latest.as_ref().unwrap().0.nonce, 3);
	}
}
