//! The worker library's error type. Every failure names what went wrong in words a worker's
//! operator can act on; `main` adds context with `anyhow` and prints it.

use crate::{
	collective::AllReduceError,
	group::GroupError,
	p2p::NetError,
	store::{remote::FetchError, StoreError},
};

/// Why a worker operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
	/// Bad input: a kernel, checkpoint, dataset or argument that does not fit.
	#[error("{0}")]
	Invalid(String),
	/// libtorch refused an operation (its message without the C++ backtrace).
	#[error("libtorch: {}", torch_message(.0))]
	Torch(#[from] tch::TchError),
	/// The content store.
	#[error(transparent)]
	Store(#[from] StoreError),
	/// A request to a peer.
	#[error(transparent)]
	Net(#[from] NetError),
	/// An AllReduce round.
	#[error(transparent)]
	AllReduce(#[from] AllReduceError),
	/// Fetching a blob from a peer (boxed: it names the peer and the CID, and every `Result` of
	/// the library carries the size of the largest variant).
	#[error(transparent)]
	Fetch(Box<FetchError>),
	/// Forming a training group.
	#[error(transparent)]
	Group(Box<GroupError>),
	/// A malformed multiaddress.
	/// Talking to the chain failed.
	#[error(transparent)]
	Chain(#[from] crate::chain::ChainError),
	/// A transaction failed.
	#[error(transparent)]
	Tx(#[from] crate::chain::TxError),
	#[error("bad address: {0}")]
	Address(#[from] libp2p::multiaddr::Error),
	/// A task of the worker panicked or was cancelled.
	#[error("task failed: {0}")]
	Task(#[from] tokio::task::JoinError),
	/// JSON.
	#[error("JSON: {0}")]
	Json(#[from] serde_json::Error),
	/// I/O.
	#[error("I/O: {0}")]
	Io(#[from] std::io::Error),
	/// An error with what was being done when it happened.
	#[error("{context}: {inner}")]
	Context {
		/// What was being done.
		context: String,
		/// The error (shown in this error's message, so not reported again as its source).
		inner: Box<Error>,
	},
}

impl From<FetchError> for Error {
	fn from(e: FetchError) -> Self {
		Error::Fetch(Box::new(e))
	}
}

impl From<GroupError> for Error {
	fn from(e: GroupError) -> Self {
		Error::Group(Box::new(e))
	}
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Returns early with [`Error::Invalid`] and a formatted message.
macro_rules! bail {
	($($t:tt)*) => { return Err($crate::error::Error::Invalid(format!($($t)*))) };
}
pub(crate) use bail;

/// Adds what was being done to an error (or turns a `None` into an [`Error::Invalid`]).
pub trait Context<T> {
	/// With a fixed description.
	fn context(self, context: impl Into<String>) -> Result<T>;
	/// With a description computed only on error.
	fn with_context<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
	fn context(self, context: impl Into<String>) -> Result<T> {
		self.map_err(|e| Error::Context { context: context.into(), inner: Box::new(e.into()) })
	}
	fn with_context<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T> {
		self.map_err(|e| Error::Context { context: f().into(), inner: Box::new(e.into()) })
	}
}

impl<T> Context<T> for Option<T> {
	fn context(self, context: impl Into<String>) -> Result<T> {
		self.ok_or_else(|| Error::Invalid(context.into()))
	}
	fn with_context<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T> {
		self.ok_or_else(|| Error::Invalid(f().into()))
	}
}

/// An [`Error::Invalid`] with a formatted message.
macro_rules! invalid {
	($($t:tt)*) => { $crate::error::Error::Invalid(format!($($t)*)) };
}
pub(crate) use invalid;

/// The first line of a libtorch error: what went wrong, without the C++ backtrace that follows.
pub fn torch_message(e: &tch::TchError) -> String {
	e.to_string().lines().next().unwrap_or_default().to_string()
}
