//! The worker's chain client (subxt): static calls, storage and events generated from the
//! runtime's metadata (`worker/metadata/verity.scale`, checked against the runtime by
//! `runtime/tests/metadata.rs`), an sr25519 signer ([`keys`]) and a transaction queue ([`tx`]).
//! [`view`] turns what the chain stores into the shared types of `verity-primitives`.

pub mod keys;
pub mod tx;

pub use tx::{Included, Submitter, TxError};

/// Calls, storage, events and types of the Verity runtime, generated at build time.
#[subxt::subxt(
	runtime_metadata_path = "metadata/verity.scale",
	derive_for_all_types = "::codec::Encode, ::codec::Decode, Clone, PartialEq"
)]
pub mod api {}

/// The runtime's transaction format: the standard polkadot-sdk extensions, sr25519 accounts.
pub type Config = subxt::SubstrateConfig;
/// A connection to a node.
pub type Client = subxt::OnlineClient<Config>;
/// An account on chain.
pub type AccountId = subxt::utils::AccountId32;
/// The view of the chain at one block.
pub type AtBlock =
	subxt::client::ClientAtBlock<Config, subxt::client::OnlineClientAtBlockImpl<Config>>;

/// Why talking to the chain failed.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
	/// The node could not be reached or answered with an error.
	#[error("node {url}: {message}")]
	Node {
		/// Its address.
		url: String,
		/// What happened.
		message: String,
	},
	/// What the chain stores is not what this worker's client was built for.
	#[error("the chain's {what} does not decode as this worker expects ({message}); is the worker built for this runtime?")]
	Decode {
		/// What was read.
		what: &'static str,
		/// The decoder's message.
		message: String,
	},
	/// A subxt error (reading state, following blocks).
	#[error("{0}")]
	Subxt(String),
}

/// Maps any subxt error into [`ChainError::Subxt`].
pub fn subxt_err(e: impl std::fmt::Display) -> ChainError {
	ChainError::Subxt(e.to_string())
}

/// The node's JSON-RPC methods outside subxt's typed interface (the pool-aware account nonce).
pub type Rpc = subxt::rpcs::methods::LegacyRpcMethods<subxt::config::RpcConfigFor<Config>>;

/// A connection to one node: the typed client and the raw RPC methods over the same socket.
#[derive(Clone)]
pub struct Chain {
	/// Typed calls, storage, events, blocks.
	pub client: Client,
	/// Raw RPC methods.
	pub rpc: Rpc,
	/// The node's address.
	pub url: String,
}

/// Connects to the node at `url` (`ws://` on loopback or a private network, `wss://` elsewhere).
pub async fn connect(url: &str) -> Result<Chain, ChainError> {
	let node =
		|e: &dyn std::fmt::Display| ChainError::Node { url: url.into(), message: e.to_string() };
	let rpc = subxt::rpcs::RpcClient::from_insecure_url(url).await.map_err(|e| node(&e))?;
	let client = Client::from_rpc_client(rpc.clone()).await.map_err(|e| node(&e))?;
	Ok(Chain { client, rpc: Rpc::new(rpc), url: url.into() })
}

/// The value at storage `addr` (with `keys`) at `at`, decoded; `None` where nothing is stored.
pub async fn read<A: subxt::storage::Address>(
	at: &AtBlock,
	addr: A,
	keys: A::KeyParts,
) -> Result<Option<A::Value>, ChainError> {
	at.storage()
		.try_fetch(addr, keys)
		.await
		.map_err(subxt_err)?
		.map(|v| v.decode())
		.transpose()
		.map_err(subxt_err)
}
