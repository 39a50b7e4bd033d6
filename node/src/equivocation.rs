//! BABE equivocation reports that carry the blocks' seals.
//!
//! `sc-consensus-babe` 0.60 looks for equivocations in its block import, after its verifier has
//! moved each header's seal into the import's post-digests. The proof it builds from there holds
//! two unsealed headers, so the runtime cannot see that the offender signed them and rejects every
//! such report with `Babe::InvalidEquivocationProof` (measured on the `local` network of
//! `node/tests/equivocation.rs`: each report was included and failed). This block import sits in
//! front of BABE's: it puts the seal back on the header, keeps its own index of sealed headers per
//! slot (under an aux-db prefix of its own, so it never mixes with BABE's unsealed index) and
//! reports an authority that sealed two blocks in one slot with a proof the runtime accepts.
//! BABE's own report of the same equivocation then meets ours in the pool (the same
//! `(offender, slot)` tag) or on chain (a known offence) and is dropped.

use std::sync::Arc;

use log::{debug, info, warn};
use polkadot_sdk::{
	sc_client_api::AuxStore,
	sc_consensus::{BlockCheckParams, BlockImport, BlockImportParams, ImportResult},
	sc_consensus_babe::{self, BabeIntermediate, BabeLink, Epoch, INTERMEDIATE_KEY},
	sc_consensus_slots,
	sc_transaction_pool_api::OffchainTransactionPoolFactory,
	sp_api::{ApiExt, ProvideRuntimeApi},
	sp_consensus::{BlockOrigin, Error as ConsensusError, SelectChain},
	sp_consensus_babe::{digests::CompatibleDigestItem, AuthorityId, BabeApi, Slot},
	sp_runtime::traits::{Block as BlockT, Header as _},
	sp_timestamp::Timestamp,
};
use verity_runtime::opaque::Block;

use crate::service::{FullBabeBlockImport, FullClient, FullSelectChain};

type Header = <Block as BlockT>::Header;

/// Where this import keeps its index of sealed headers in the aux database.
const AUX_PREFIX: &[u8] = b"verity/sealed-equivocations/";

/// BABE's block import with equivocation reports the runtime can check (see the module docs).
#[derive(Clone)]
pub struct SealedEquivocationReports {
	inner: FullBabeBlockImport,
	client: Arc<FullClient>,
	link: BabeLink<Block>,
	select_chain: FullSelectChain,
	pool: OffchainTransactionPoolFactory<Block>,
}

impl SealedEquivocationReports {
	/// Wraps BABE's block import; reports go into `pool` as unsigned transactions.
	pub fn new(
		inner: FullBabeBlockImport,
		client: Arc<FullClient>,
		link: BabeLink<Block>,
		select_chain: FullSelectChain,
		pool: OffchainTransactionPoolFactory<Block>,
	) -> Self {
		Self { inner, client, link, select_chain, pool }
	}

	/// The block's header with its seal, its slot and the authority that sealed it, when it is a
	/// BABE block BABE has verified (or authored) and it does not come from initial sync, whose
	/// equivocations are most likely stale.
	fn sealed(&self, block: &BlockImportParams<Block>) -> Option<(Header, Slot, AuthorityId)> {
		if block.origin == BlockOrigin::NetworkInitialSync {
			return None;
		}
		let seal = block.post_digests.last().filter(|d| d.as_babe_seal().is_some())?.clone();
		let pre_digest = sc_consensus_babe::find_pre_digest::<Block>(&block.header).ok()?;
		let descriptor = &block
			.get_intermediate::<BabeIntermediate<Block>>(INTERMEDIATE_KEY)
			.ok()?
			.epoch_descriptor;
		let author = {
			let epochs = self.link.epoch_changes().shared_data();
			let epoch =
				epochs.viable_epoch(descriptor, |slot| Epoch::genesis(self.link.config(), slot))?;
			let index = usize::try_from(pre_digest.authority_index()).ok()?;
			epoch.as_ref().authorities.get(index)?.0.clone()
		};
		let mut header = block.header.clone();
		header.digest_mut().push(seal);
		Some((header, pre_digest.slot(), author))
	}

	/// Records the sealed header and, if its author already sealed another block in this slot,
	/// submits the equivocation report at the best block.
	async fn check_and_report(
		&self,
		header: Header,
		slot: Slot,
		author: AuthorityId,
	) -> Result<(), String> {
		let slot_now =
			Slot::from_timestamp(Timestamp::current(), self.link.config().slot_duration());
		let index = Prefixed(&*self.client);
		let Some(proof) =
			sc_consensus_slots::check_equivocation(&index, slot_now, slot, &header, &author)
				.map_err(|e| e.to_string())?
		else {
			return Ok(());
		};
		info!(
			target: "babe",
			"Slot author {author:?} sealed two blocks at slot {slot}: {:?} and {:?}",
			proof.first_header.hash(),
			proof.second_header.hash(),
		);
		let best = self.select_chain.best_chain().await.map_err(|e| e.to_string())?.hash();
		// The key ownership proof is made at the equivocating block's parent (still in the
		// offence's session), else at the best block.
		let prove = |at| {
			self.client
				.runtime_api()
				.generate_key_ownership_proof(at, slot, author.clone())
				.map_err(|e| e.to_string())
		};
		let Some(key_owner_proof) = prove(*header.parent_hash())?.or(prove(best)?) else {
			debug!(target: "babe", "The equivocating author is not in the authority set");
			return Ok(());
		};
		let mut api = self.client.runtime_api();
		api.register_extension(self.pool.offchain_transaction_pool(best));
		api.submit_report_equivocation_unsigned_extrinsic(best, proof, key_owner_proof)
			.map_err(|e| e.to_string())?
			.ok_or("the runtime did not accept the report")?;
		info!(target: "babe", "Submitted the sealed equivocation report for author {author:?}");
		Ok(())
	}
}

#[async_trait::async_trait]
impl BlockImport<Block> for SealedEquivocationReports {
	type Error = ConsensusError;

	async fn check_block(
		&self,
		block: BlockCheckParams<Block>,
	) -> Result<ImportResult, Self::Error> {
		self.inner.check_block(block).await
	}

	async fn import_block(
		&self,
		block: BlockImportParams<Block>,
	) -> Result<ImportResult, Self::Error> {
		if let Some((header, slot, author)) = self.sealed(&block) {
			// A failed report must not keep a valid block out.
			if let Err(e) = self.check_and_report(header, slot, author).await {
				warn!(target: "babe", "Error checking/reporting a sealed BABE equivocation: {e}");
			}
		}
		self.inner.import_block(block).await
	}
}

/// The aux database with every key under [`AUX_PREFIX`].
struct Prefixed<'a, C>(&'a C);

fn prefixed(key: &[u8]) -> Vec<u8> {
	[AUX_PREFIX, key].concat()
}

impl<C: AuxStore> AuxStore for Prefixed<'_, C> {
	fn insert_aux<
		'a,
		'b: 'a,
		'c: 'a,
		I: IntoIterator<Item = &'a (&'c [u8], &'c [u8])>,
		D: IntoIterator<Item = &'a &'b [u8]>,
	>(
		&self,
		insert: I,
		delete: D,
	) -> polkadot_sdk::sp_blockchain::Result<()> {
		let insert: Vec<(Vec<u8>, &[u8])> =
			insert.into_iter().map(|(k, v)| (prefixed(k), *v)).collect();
		let delete: Vec<Vec<u8>> = delete.into_iter().map(|k| prefixed(k)).collect();
		let insert: Vec<(&[u8], &[u8])> = insert.iter().map(|(k, v)| (k.as_slice(), *v)).collect();
		let delete: Vec<&[u8]> = delete.iter().map(Vec::as_slice).collect();
		self.0.insert_aux(insert.iter(), delete.iter())
	}

	fn get_aux(&self, key: &[u8]) -> polkadot_sdk::sp_blockchain::Result<Option<Vec<u8>>> {
		self.0.get_aux(&prefixed(key))
	}
}
