//! The serving journal: one line per answered request (its hash, the voucher that paid for it and
//! the buyer's signature), appended and synced to disk before the response leaves. A restart
//! replays it to rebuild every channel's request log and latest voucher, so whatever was answered
//! is redeemed. Appends from concurrent requests share one `fdatasync` (group commit) on a thread
//! of their own.
//!
//! The journal does not grow without end: the writer thread keeps what a replay would rebuild, and
//! every [`COMPACT_EVERY`] lines (and at open, when the file holds more lines than channels) it
//! rewrites the file as one snapshot line per channel — the request log's peaks and count, the
//! latest voucher and its signature — synced to a new file that then replaces the old one by
//! rename. A crash at any point leaves either the old file or the new one, each complete.
//!
//! A channel closed on chain (its `ChannelClosed` in a finalized block) can redeem nothing more:
//! a `{"closed": channel}` line drops it, from the replay and from the next compaction.

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
use verity_primitives::{merkle::RequestLog, voucher::Voucher};

/// Lines appended between two compactions.
pub const COMPACT_EVERY: u64 = 100_000;

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

/// A channel's state in one line: what a replay of all its request lines would rebuild.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Snapshot {
	/// The channel (`0x` hex).
	pub channel: String,
	/// Requests answered on it.
	pub count: u64,
	/// The request log's peaks: `(0x hex subtree root, height)`, largest first.
	pub peaks: Vec<(String, u32)>,
	/// The SCALE-encoded latest voucher (`0x` hex).
	pub voucher: String,
	/// The SCALE-encoded signature (`0x` hex).
	pub signature: String,
}

impl Snapshot {
	fn of(channel: &H256, served: &Served) -> Option<Self> {
		let (voucher, signature) = served.latest.as_ref()?;
		Some(Snapshot {
			channel: format!("{channel:?}"),
			count: served.log.count(),
			peaks: served.log.peaks().iter().map(|(p, h)| (format!("{p:?}"), *h)).collect(),
			voucher: format!("0x{}", hex::encode(voucher.encode())),
			signature: format!("0x{}", hex::encode(signature.encode())),
		})
	}
}

/// A channel closed on chain.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Closed {
	/// The channel (`0x` hex).
	pub closed: String,
}

/// A journal line: one answered request, a channel's snapshot written by a compaction, or a
/// closed channel.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Record {
	Snapshot(Snapshot),
	Answered(Line),
	Closed(Closed),
}

/// A line on its way to disk: an answered request, or a closed channel.
struct Pending {
	bytes: Vec<u8>,
	what: Change,
	done: oneshot::Sender<std::io::Result<()>>,
}

/// What a line changes in the writer's state.
enum Change {
	Answered { request: H256, voucher: Voucher<u128>, signature: MultiSignature },
	Closed(H256),
}

/// Appends lines from any task; each append resolves once its line is on disk.
#[derive(Clone)]
pub struct Journal {
	tx: mpsc::Sender<Pending>,
}

impl Journal {
	/// Opens (creating) the journal at `path`, replays it, and starts its writer thread, which
	/// compacts every [`COMPACT_EVERY`] lines.
	pub fn open(path: &Path) -> Result<(Journal, HashMap<H256, Served>)> {
		Self::open_compacting_every(path, COMPACT_EVERY)
	}

	/// [`open`](Self::open), compacting every `every` lines.
	pub fn open_compacting_every(
		path: &Path,
		every: u64,
	) -> Result<(Journal, HashMap<H256, Served>)> {
		let (mut served, lines, skipped) = replay(path)?;
		if skipped > 0 {
			// Kept for the operator: a compaction drops what could not be read.
			let kept = path.with_extension(format!(
				"jsonl.skipped-{}",
				std::time::SystemTime::now()
					.duration_since(std::time::UNIX_EPOCH)
					.map_or(0, |d| d.as_secs())
			));
			std::fs::copy(path, &kept)?;
			tracing::warn!(skipped, kept = %kept.display(), "journal lines skipped; the file is kept");
		}
		let mut file = if lines > served.len() as u64 {
			compact(path, &served)?
		} else {
			let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
			// A line torn by a crash is ended, so the next append starts a line of its own.
			let bytes = std::fs::read(path)?;
			if bytes.last().is_some_and(|b| *b != b'\n') {
				file.write_all(b"\n")?;
			}
			file
		};
		let state = served.clone();
		let path = path.to_path_buf();
		let (tx, rx) = mpsc::channel::<Pending>();
		std::thread::Builder::new().name("serve-journal".into()).spawn(move || {
			let mut since = 0u64;
			while let Ok(first) = rx.recv() {
				let mut batch = vec![first];
				batch.extend(rx.try_iter());
				let mut bytes = Vec::new();
				for p in &batch {
					bytes.extend_from_slice(&p.bytes);
				}
				let written = file.write_all(&bytes).and_then(|()| file.sync_data());
				if written.is_ok() {
					for p in &batch {
						match &p.what {
							Change::Answered { request, voucher, signature } => {
								let s = served.entry(voucher.channel).or_default();
								s.log.push(request);
								s.latest = Some((voucher.clone(), signature.clone()));
							}
							Change::Closed(channel) => {
								served.remove(channel);
							}
						}
					}
					since += batch.len() as u64;
				}
				for p in batch {
					let _ = p.done.send(match &written {
						Ok(()) => Ok(()),
						Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
					});
				}
				if since >= every {
					// What is answered is already on disk in the old file: a failed compaction
					// costs only the space it would have saved.
					match compact(&path, &served) {
						Ok(f) => {
							file = f;
							since = 0;
							tracing::info!(channels = served.len(), "serving journal compacted");
						}
						Err(e) => tracing::warn!(error = %e, "serving journal not compacted"),
					}
				}
			}
		})?;
		Ok((Journal { tx }, state))
	}

	/// Appends the line of `request`, paid by `voucher` and `signature`; resolves once it is
	/// synced.
	pub async fn append(
		&self,
		request: &H256,
		voucher: &Voucher<u128>,
		signature: &MultiSignature,
	) -> Result<()> {
		let line = serde_json::to_vec(&Line::new(request, voucher, signature))?;
		let what = Change::Answered {
			request: *request,
			voucher: voucher.clone(),
			signature: signature.clone(),
		};
		self.write(line, what).await
	}

	/// Appends that `channel` is closed on chain: it is dropped from the journal.
	pub async fn closed(&self, channel: &H256) -> Result<()> {
		let line = serde_json::to_vec(&Closed { closed: format!("{channel:?}") })?;
		self.write(line, Change::Closed(*channel)).await
	}

	async fn write(&self, mut bytes: Vec<u8>, what: Change) -> Result<()> {
		bytes.push(b'\n');
		let (done, wait) = oneshot::channel();
		self.tx
			.send(Pending { bytes, what, done })
			.map_err(|_| invalid!("the journal writer stopped"))?;
		wait.await.map_err(|_| invalid!("the journal writer stopped"))??;
		Ok(())
	}
}

/// Rewrites the journal at `path` as one snapshot line per channel of `served`: written and
/// synced to a file beside it, renamed over it, the directory synced. The new file, open for
/// appending.
fn compact(path: &Path, served: &HashMap<H256, Served>) -> Result<std::fs::File> {
	let fresh = path.with_extension("jsonl.compacting");
	let mut bytes = Vec::new();
	for (channel, s) in served {
		if let Some(snapshot) = Snapshot::of(channel, s) {
			serde_json::to_writer(&mut bytes, &snapshot)?;
			bytes.push(b'\n');
		}
	}
	{
		let mut file = std::fs::File::create(&fresh)?;
		file.write_all(&bytes)?;
		file.sync_all()?;
	}
	std::fs::rename(&fresh, path)?;
	if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
		std::fs::File::open(dir)?.sync_all()?;
	}
	Ok(std::fs::OpenOptions::new().append(true).open(path)?)
}

/// Rebuilds each channel's log from the journal; also the number of lines read and skipped. A
/// line that does
/// not continue its channel's log (a torn last line after a crash, or a duplicate) is skipped
/// with a warning; a snapshot line replaces what came before it for its channel.
fn replay(path: &Path) -> Result<(HashMap<H256, Served>, u64, u64)> {
	let mut served: HashMap<H256, Served> = HashMap::new();
	let file = match std::fs::File::open(path) {
		Ok(f) => f,
		Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((served, 0, 0)),
		Err(e) => return Err(e.into()),
	};
	let (mut lines, mut skipped) = (0u64, 0u64);
	for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
		let line = line?;
		lines += 1;
		let decoded = decode_line(&line);
		let (request, snapshot, voucher, signature) = match decoded {
			Ok(Decoded::Paid(request, snapshot, voucher, signature)) => {
				(request, snapshot, voucher, signature)
			}
			Ok(Decoded::Closed(channel)) => {
				served.remove(&channel);
				continue;
			}
			Err(e) => {
				tracing::warn!(line = n + 1, error = %e, path = %path.display(), "skipping an unreadable journal line");
				skipped += 1;
				continue;
			}
		};
		let s = served.entry(voucher.channel).or_default();
		match (request, snapshot) {
			(_, Some(log)) => s.log = log,
			(Some(request), None) if voucher.nonce == s.log.count() + 1 => s.log.push(&request),
			_ => {
				tracing::warn!(
					line = n + 1,
					nonce = voucher.nonce,
					"skipping a journal line out of order"
				);
				skipped += 1;
				continue;
			}
		}
		s.latest = Some((voucher, signature));
	}
	Ok((served, lines, skipped))
}

/// What a journal line says: the request it answered (or, for a snapshot, the channel's log), the
/// voucher and the signature; or that a channel closed.
enum Decoded {
	Paid(Option<H256>, Option<RequestLog>, Voucher<u128>, MultiSignature),
	Closed(H256),
}

fn decode_line(line: &str) -> std::result::Result<Decoded, String> {
	let record = serde_json::from_str::<Record>(line).map_err(|e| e.to_string())?;
	let voucher = |v: &str| super::protocol::decode_hex::<Voucher<u128>>(v);
	let signature = |s: &str| super::protocol::decode_hex::<MultiSignature>(s);
	Ok(match record {
		Record::Answered(l) => Decoded::Paid(
			Some(super::protocol::decode_hex::<H256>(&l.request)?),
			None,
			voucher(&l.voucher)?,
			signature(&l.signature)?,
		),
		Record::Closed(c) => Decoded::Closed(
			super::protocol::decode_h256(&c.closed)
				.ok_or_else(|| format!("{:?} is not a 32-byte hex channel", c.closed))?,
		),
		Record::Snapshot(s) => {
			let peaks = s
				.peaks
				.iter()
				.map(|(p, h)| {
					super::protocol::decode_h256(p)
						.map(|p| (p, *h))
						.ok_or_else(|| format!("{p:?} is not a 32-byte hex root"))
				})
				.collect::<Result<Vec<_>, _>>()?;
			let log = RequestLog::from_peaks(s.count, peaks)
				.ok_or("a snapshot whose peaks do not add up to its count")?;
			let v = voucher(&s.voucher)?;
			if v.nonce != s.count || format!("{:?}", v.channel) != s.channel {
				return Err("a snapshot whose voucher is not its own".to_string());
			}
			Decoded::Paid(None, Some(log), v, signature(&s.signature)?)
		}
	})
}

#[cfg(test)]
mod tests {
	use super::*;
	use polkadot_sdk::sp_core::{sr25519, Pair};
	use verity_primitives::voucher::sign::sign_voucher;

	fn voucher(channel: H256, log: &RequestLog, price: u128) -> Voucher<u128> {
		Voucher {
			channel,
			cumulative: price * u128::from(log.count()),
			nonce: log.count(),
			requests_root: log.root(),
		}
	}

	fn lines_in(path: &Path) -> usize {
		std::fs::read_to_string(path).unwrap().lines().count()
	}

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
				let v = voucher(channel, &log, 10);
				let sig = sign_voucher(&alice, &H256::zero(), &v);
				journal.append(&r, &v, &sig).await.unwrap();
			}
		}
		assert_eq!(lines_in(&path), 3);
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
		// Opened with more lines than channels, it was compacted: one snapshot line (the torn
		// line's file kept beside it).
		assert_eq!(lines_in(&path), 1);
	}

	#[tokio::test]
	async fn compaction_keeps_every_channel_going_on_as_before_in_one_line_each() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("serving.jsonl");
		let alice = sr25519::Pair::from_string("//Alice", None).unwrap();
		let channels = [H256::repeat_byte(1), H256::repeat_byte(2)];
		let mut logs = [RequestLog::new(), RequestLog::new()];
		let mut all = Vec::new();
		{
			let (journal, _) = Journal::open_compacting_every(&path, 10).unwrap();
			for i in 0..23u64 {
				let c = (i % 3 == 0) as usize;
				let r = H256::from_low_u64_be(i + 1);
				logs[c].push(&r);
				all.push(r);
				let v = voucher(channels[c], &logs[c], 7);
				journal.append(&r, &v, &sign_voucher(&alice, &H256::zero(), &v)).await.unwrap();
			}
			// Compacted after 20 lines (2 snapshots), then 3 more appended.
			assert_eq!(lines_in(&path), 5);
		}
		let check = |served: &HashMap<H256, Served>, logs: &[RequestLog; 2]| {
			for c in 0..2 {
				let s = &served[&channels[c]];
				assert_eq!(s.log, logs[c]);
				assert_eq!(s.latest.as_ref().unwrap().0, voucher(channels[c], &logs[c], 7));
			}
		};
		let (journal, served) = Journal::open_compacting_every(&path, 10).unwrap();
		check(&served, &logs);
		assert_eq!(lines_in(&path), 2);
		// The replayed logs go on: the next request's voucher is the one a full log would make.
		let r = H256::from_low_u64_be(99);
		logs[0].push(&r);
		let v = voucher(channels[0], &logs[0], 7);
		journal.append(&r, &v, &sign_voucher(&alice, &H256::zero(), &v)).await.unwrap();
		drop(journal);
		let (_, served) = Journal::open(&path).unwrap();
		check(&served, &logs);
		// A snapshot whose peaks do not add up to its count is refused, not trusted.
		let text = std::fs::read_to_string(&path).unwrap().replace("\"count\":", "\"count\":1");
		std::fs::write(&path, text).unwrap();
		let (_, served) = Journal::open(&path).unwrap();
		assert!(served.is_empty());
		let kept = std::fs::read_dir(dir.path())
			.unwrap()
			.filter_map(|e| e.ok())
			.filter(|e| e.file_name().to_string_lossy().starts_with("serving.jsonl.skipped-"))
			.count();
		assert_eq!(kept, 1, "the unreadable journal is kept beside the compacted one");
	}

	#[tokio::test]
	async fn a_closed_channel_is_dropped_from_the_replay_and_the_compaction() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("serving.jsonl");
		let alice = sr25519::Pair::from_string("//Alice", None).unwrap();
		let (open, closed) = (H256::repeat_byte(1), H256::repeat_byte(2));
		let mut log = RequestLog::new();
		{
			let (journal, _) = Journal::open(&path).unwrap();
			for c in [open, closed] {
				let r = H256::from_low_u64_be(1);
				let mut l = RequestLog::new();
				l.push(&r);
				let v = voucher(c, &l, 7);
				journal.append(&r, &v, &sign_voucher(&alice, &H256::zero(), &v)).await.unwrap();
				log = l;
			}
			journal.closed(&closed).await.unwrap();
		}
		assert_eq!(lines_in(&path), 3);
		let (_, served) = Journal::open(&path).unwrap();
		assert_eq!(served.keys().collect::<Vec<_>>(), vec![&open]);
		assert_eq!(served[&open].log, log);
		// Opened with more lines than channels: compacted to the open channel's snapshot.
		assert_eq!(lines_in(&path), 1);
	}
}
