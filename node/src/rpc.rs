//! The node's JSON-RPC extensions beyond the standard set: account nonces (`system_accountNextIndex`)
//! and fee queries (`payment_queryInfo`), both used by polkadot.js and subxt, and
//! `babe_epochAuthorship`, which tells a validator the slots its keys may claim this epoch.

use std::sync::Arc;

use jsonrpsee::RpcModule;
use polkadot_sdk::{
	pallet_transaction_payment_rpc::{TransactionPayment, TransactionPaymentApiServer},
	sc_consensus_babe::BabeWorkerHandle,
	sc_consensus_babe_rpc::{Babe, BabeApiServer},
	sc_transaction_pool_api::TransactionPool,
	sp_api::ProvideRuntimeApi,
	sp_block_builder::BlockBuilder,
	sp_blockchain::{Error as BlockChainError, HeaderBackend, HeaderMetadata},
	sp_consensus::SelectChain,
	sp_keystore::KeystorePtr,
	substrate_frame_rpc_system::{System, SystemApiServer},
	*,
};
use verity_runtime::{opaque::Block, AccountId, Balance, Nonce};

/// What the RPC extensions need from the node.
pub struct FullDeps<C, P, SC> {
	/// The client.
	pub client: Arc<C>,
	/// The transaction pool.
	pub pool: Arc<P>,
	/// The chain selection rule (longest chain).
	pub select_chain: SC,
	/// The node's keystore, for BABE's slot claims.
	pub keystore: KeystorePtr,
	/// Handle to the BABE worker that knows the epochs.
	pub babe_worker_handle: BabeWorkerHandle<Block>,
}

/// Builds the RPC extensions.
pub fn create_full<C, P, SC>(
	deps: FullDeps<C, P, SC>,
) -> Result<RpcModule<()>, Box<dyn std::error::Error + Send + Sync>>
where
	C: ProvideRuntimeApi<Block>
		+ HeaderBackend<Block>
		+ HeaderMetadata<Block, Error = BlockChainError>
		+ Send
		+ Sync
		+ 'static,
	C::Api: substrate_frame_rpc_system::AccountNonceApi<Block, AccountId, Nonce>
		+ pallet_transaction_payment_rpc::TransactionPaymentRuntimeApi<Block, Balance>
		+ BlockBuilder<Block>
		+ sp_consensus_babe::BabeApi<Block>,
	P: TransactionPool + 'static,
	SC: SelectChain<Block> + 'static,
{
	let mut module = RpcModule::new(());
	let FullDeps { client, pool, select_chain, keystore, babe_worker_handle } = deps;
	module.merge(System::new(client.clone(), pool).into_rpc())?;
	module.merge(TransactionPayment::new(client.clone()).into_rpc())?;
	module.merge(Babe::new(client, babe_worker_handle, keystore, select_chain).into_rpc())?;
	Ok(module)
}
