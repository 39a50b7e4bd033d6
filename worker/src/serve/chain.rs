//! The server's side of the chain: kernels loaded from their records, prices from the provider's
//! offer, channel state followed from finalized blocks, and vouchers redeemed — on a schedule,
//! at once when a buyer asks to close, and at start for whatever the journal holds.

use super::{book::OnChain, Shared};
use crate::{
	chain::{self, api, subxt_err, AtBlock},
	error::{invalid, Result},
	provider::compute::Peer,
};
use polkadot_sdk::{sp_core::H256, sp_runtime::AccountId32};
use std::{sync::Arc, time::Duration};
use verity_primitives::kernel::{KernelSpec, FLOPS_PER_WU};

/// The price of one input row of a kernel at a price per WU: its declared inference FLOPs per
/// sample at the offer's price, rounded up, at least 1.
pub fn price_per_row(inference_flops: u64, price_per_wu: u128) -> u128 {
	u128::from(inference_flops).saturating_mul(price_per_wu).div_ceil(FLOPS_PER_WU).max(1)
}

/// `id`'s record at `at`.
pub async fn kernel_record(at: &AtBlock, id: H256) -> Result<KernelSpec> {
	let entry =
		chain::read(at, api::storage().aivm_registry().kernels(), (subxt::utils::H256(id.0),))
			.await?
			.ok_or_else(|| invalid!("kernel {id:?} is not registered on chain"))?;
	crate::provider::shared("kernel record", &entry.spec)
}

/// Every peer in the endpoint directory (where a kernel archive may be fetched from).
pub async fn peers(at: &AtBlock) -> Result<Vec<Peer>> {
	let mut out = Vec::new();
	let mut it =
		at.storage().iter(api::storage().marketplace().endpoints(), ()).await.map_err(subxt_err)?;
	while let Some(e) = it.next().await {
		let e = e.map_err(subxt_err)?.value().decode().map_err(subxt_err)?;
		let addrs: Vec<Vec<u8>> = e.addrs.0.into_iter().map(|a| a.0).collect();
		if let Some(p) = Peer::parse(&e.peer.0, &addrs) {
			out.push(p);
		}
	}
	Ok(out)
}

/// The provider's price per WU at `at`: its offer in `class` (a fixed price, or the class's
/// index for an offer following it); `None` without an offer.
pub async fn price_per_wu(at: &AtBlock, me: &chain::AccountId, class: u8) -> Result<Option<u128>> {
	use api::runtime_types::pallet_marketplace::types::PriceSpec;
	let Some(id) =
		chain::read(at, api::storage().marketplace().provider_offers(), (*me, class)).await?
	else {
		return Ok(None);
	};
	let Some(offer) = chain::read(at, api::storage().marketplace().offers(), (id,)).await? else {
		return Ok(None);
	};
	Ok(Some(match offer.price {
		PriceSpec::Fixed(p) => p,
		PriceSpec::FollowIndex => {
			chain::read(at, api::storage().marketplace().price_index(), (class,))
				.await?
				.unwrap_or(0)
		}
	}))
}

/// Channel `id` at `at`, as the server keeps it.
pub async fn channel(at: &AtBlock, id: H256) -> Result<Option<OnChain>> {
	let c =
		chain::read(at, api::storage().fee_settlement().channels(), (subxt::utils::H256(id.0),))
			.await?;
	Ok(c.map(|c| OnChain {
		buyer: AccountId32::new(c.buyer.0),
		provider: AccountId32::new(c.provider.0),
		deposit: c.deposit,
		paid: c.paid,
		nonce: c.nonce,
		closes_at: c.closes_at.map(u64::from),
	}))
}

impl Shared {
	/// Follows finalized blocks until the process stops, reconnecting when the node goes away.
	pub(super) async fn follow(self: Arc<Self>) {
		let mut wait = Duration::from_secs(1);
		loop {
			match chain::connect(&self.cfg.url).await {
				Ok(c) => {
					wait = Duration::from_secs(1);
					*self.client.write().await = Some(c.client.clone());
					if let Err(e) = self.follow_blocks(&c).await {
						tracing::warn!(error = %e, "serving: lost the node; reconnecting");
					}
				}
				Err(e) => tracing::warn!(error = %e, "serving: cannot reach the node"),
			}
			tokio::time::sleep(wait).await;
			wait = (wait * 2).min(Duration::from_secs(15));
		}
	}

	async fn follow_blocks(&self, c: &chain::Chain) -> Result<()> {
		// The stream starts with finalized blocks from long ago; the state is read from the
		// newest one (its storage says everything the old ones' events would).
		let start = c.client.at_current_block().await.map_err(subxt_err)?.block_number();
		let mut blocks = c.client.stream_blocks().await.map_err(subxt_err)?;
		let mut first = true;
		let mut redeem_at = 0u64;
		while let Some(block) = blocks.next().await {
			let block = block.map_err(subxt_err)?;
			if block.number() < start {
				continue;
			}
			let at = block.at().await.map_err(subxt_err)?;
			let number = at.block_number();
			let mut urgent = false;
			if first {
				self.rescan(&at).await?;
				first = false;
				urgent = true;
			} else {
				urgent |= self.observe(&at).await?;
			}
			self.reprice(&at).await?;
			if urgent || number >= redeem_at {
				// A failed redeem (the node busy, the account's queue not connected yet) is tried
				// again at the next block, not the next schedule.
				redeem_at = match self.redeem(&at).await {
					true => number + self.cfg.redeem_every,
					false => number + 1,
				};
			}
		}
		Err(invalid!("the node closed the finalized block stream"))
	}

	/// Every channel of this provider, from storage (after a (re)connect).
	async fn rescan(&self, at: &AtBlock) -> Result<()> {
		let mut it = at
			.storage()
			.iter(api::storage().fee_settlement().channels(), ())
			.await
			.map_err(subxt_err)?;
		let mut found = Vec::new();
		while let Some(e) = it.next().await {
			let e = e.map_err(subxt_err)?;
			let c = e.value().decode().map_err(subxt_err)?;
			if c.provider.0 != self.me_raw() {
				continue;
			}
			let (id,) = e.key().map_err(subxt_err)?.decode().map_err(subxt_err)?;
			found.push(H256(id.0));
		}
		for id in found {
			let view = channel(at, id).await?;
			self.set_chain(id, view).await;
		}
		// Channels in the journal but gone from chain are closed.
		let known: Vec<H256> = self.channels.lock().await.keys().copied().collect();
		for id in known {
			if channel(at, id).await?.is_none() {
				self.set_chain(id, None).await;
			}
		}
		let channels = self.channels.lock().await.len();
		tracing::info!(block = at.block_number(), channels, "serving: channels read from chain");
		Ok(())
	}

	/// Re-reads the channels a block's events touch; `true` when one of ours started closing.
	async fn observe(&self, at: &AtBlock) -> Result<bool> {
		use api::fee_settlement::events as ev;
		let events = at.events().fetch().await.map_err(subxt_err)?;
		let mut touched = Vec::new();
		for e in events.find::<ev::ChannelOpened>() {
			let e = e.map_err(subxt_err)?;
			if e.provider.0 == self.me_raw() {
				touched.push(H256(e.channel.0));
			}
		}
		for e in events.find::<ev::ChannelToppedUp>() {
			touched.push(H256(e.map_err(subxt_err)?.channel.0));
		}
		for e in events.find::<ev::VoucherRedeemed>() {
			touched.push(H256(e.map_err(subxt_err)?.channel.0));
		}
		let mut closed = Vec::new();
		for e in events.find::<ev::ChannelClosed>() {
			let id = H256(e.map_err(subxt_err)?.channel.0);
			touched.push(id);
			closed.push(id);
		}
		let mut closing = Vec::new();
		for e in events.find::<ev::CloseRequested>() {
			let id = H256(e.map_err(subxt_err)?.channel.0);
			touched.push(id);
			closing.push(id);
		}
		let mut urgent = false;
		for id in touched {
			let ours = self.channels.lock().await.contains_key(&id);
			let view = channel(at, id).await?;
			if ours || view.as_ref().is_some_and(|v| v.provider == self.me) {
				urgent |= closing.contains(&id);
				self.set_chain(id, view).await;
			}
		}
		// Closed in a finalized block: nothing more to redeem or serve; forgotten for good.
		for id in closed {
			if self.channels.lock().await.remove(&id).is_some() {
				self.journal.closed(&id).await?;
				self.locks.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
				tracing::info!(channel = ?id, "serving: channel closed, dropped from the journal");
			}
		}
		Ok(urgent)
	}

	/// Re-reads the price per WU the server charges at.
	async fn reprice(&self, at: &AtBlock) -> Result<()> {
		let me = chain::AccountId::from(<[u8; 32]>::from(self.me.clone()));
		let p = price_per_wu(at, &me, self.cfg.class).await?;
		*self.price_per_wu.write().await = p;
		Ok(())
	}

	/// Redeems, in one `redeem_batch` per 128 channels, every channel whose latest voucher is
	/// above what the chain has redeemed; `false` if any failed (logged).
	async fn redeem(&self, at: &AtBlock) -> bool {
		use api::runtime_types::bounded_collections::bounded_vec::BoundedVec;
		let mut due = Vec::new();
		for (id, e) in self.channels.lock().await.iter() {
			let (Some(c), Some((v, s))) = (&e.chain, &e.served.latest) else { continue };
			if v.nonce > c.nonce && c.closes_at.is_none_or(|end| end > at.block_number()) {
				due.push((*id, v.clone(), s.clone()));
			}
		}
		let mut all = true;
		for chunk in due.chunks(128) {
			let batch: Result<Vec<_>> = chunk
				.iter()
				.map(|(_, v, s)| {
					Ok((
						crate::provider::shared("voucher", v)?,
						crate::provider::shared("signature", s)?,
					))
				})
				.collect();
			let batch = match batch {
				Ok(b) => b,
				Err(e) => {
					tracing::warn!(error = %e, "serving: cannot encode vouchers for redeem");
					return false;
				}
			};
			let total: u128 = chunk.iter().map(|(_, v, _)| v.cumulative).sum();
			match self
				.submitter
				.submit(&api::tx().fee_settlement().redeem_batch(BoundedVec(batch)))
				.await
			{
				Ok(inc) => tracing::info!(
					channels = chunk.len(),
					cumulative = total,
					block = inc.number,
					"serving: vouchers redeemed"
				),
				Err(e) => {
					// All or nothing: one channel's refusal (closed meanwhile) fails the batch, so
					// the rest go one by one.
					tracing::warn!(error = %e, channels = chunk.len(), "serving: batch redeem failed; redeeming one by one");
					for (id, v, s) in chunk {
						let (Ok(v), Ok(s)) = (
							crate::provider::shared("voucher", v),
							crate::provider::shared("signature", s),
						) else {
							continue;
						};
						if let Err(e) =
							self.submitter.submit(&api::tx().fee_settlement().redeem(v, s)).await
						{
							tracing::warn!(channel = ?id, error = %e, "serving: redeem failed; retrying");
							all = false;
						}
					}
				}
			}
		}
		all
	}
}
