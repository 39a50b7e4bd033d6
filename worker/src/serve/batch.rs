//! Dynamic batching: the requests for one kernel queue (bounded) for one thread that owns the
//! model; it takes the first, waits at most `max_wait` for more until `max_rows` rows are in
//! hand, runs them as one forward pass on libtorch's thread pool and hands each request its rows
//! of the output. A full queue is refused at once ([`Busy`]), so memory stays bounded whatever
//! the load.

use crate::{error::Result, kernel::Model};
use std::{
	sync::mpsc::{self, RecvTimeoutError, TrySendError},
	time::{Duration, Instant},
};
use tch::Tensor;
use tokio::sync::oneshot;

/// How a kernel's batches are formed.
#[derive(Clone, Copy, Debug)]
pub struct BatchConfig {
	/// Rows per forward pass, at most.
	pub max_rows: usize,
	/// How long the first request of a batch waits for others.
	pub max_wait: Duration,
	/// Requests waiting, at most; more are refused with 503.
	pub queue: usize,
}

struct Item {
	input: Tensor,
	reply: oneshot::Sender<Result<Tensor>>,
}

/// The queue is full: try again shortly.
#[derive(Debug)]
pub struct Busy;

/// A handle to a kernel's batching thread.
#[derive(Clone)]
pub struct Batcher {
	tx: mpsc::SyncSender<Item>,
}

impl Batcher {
	/// Starts the thread that owns `model`.
	pub fn start(name: &str, mut model: Model, cfg: BatchConfig) -> Result<Batcher> {
		let (tx, rx) = mpsc::sync_channel::<Item>(cfg.queue.max(1));
		std::thread::Builder::new().name(format!("serve-{name}")).spawn(move || {
			while let Ok(first) = rx.recv() {
				let mut items = vec![first];
				let mut rows = rows_of(&items[0].input);
				let deadline = Instant::now() + cfg.max_wait;
				while rows < cfg.max_rows {
					let left = deadline.saturating_duration_since(Instant::now());
					match rx.recv_timeout(left) {
						Ok(item) => {
							rows += rows_of(&item.input);
							items.push(item);
						}
						Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
					}
				}
				run_batch(&mut model, items, rows);
			}
		})?;
		Ok(Batcher { tx })
	}

	/// Queues `input` (rows × the kernel's input shape); resolves with its output rows.
	pub fn submit(
		&self,
		input: Tensor,
	) -> std::result::Result<oneshot::Receiver<Result<Tensor>>, Busy> {
		let (reply, rx) = oneshot::channel();
		match self.tx.try_send(Item { input, reply }) {
			Ok(()) => Ok(rx),
			Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Err(Busy),
		}
	}
}

fn rows_of(t: &Tensor) -> usize {
	t.size().first().copied().unwrap_or(0).max(0) as usize
}

fn run_batch(model: &mut Model, items: Vec<Item>, rows: usize) {
	let inputs: Vec<&Tensor> = items.iter().map(|i| &i.input).collect();
	let out = Tensor::f_cat(&inputs, 0)
		.map_err(Into::into)
		.and_then(|all| model.infer(&all, rows.max(1) as i64));
	match out {
		Ok(out) => {
			let mut at = 0i64;
			for item in items {
				let n = rows_of(&item.input) as i64;
				let _ = item.reply.send(Ok(out.narrow(0, at, n)));
				at += n;
			}
		}
		Err(e) => {
			let message = e.to_string();
			for item in items {
				let _ = item.reply.send(Err(crate::error::invalid!("{message}")));
			}
		}
	}
}
