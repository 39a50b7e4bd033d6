//! What a provider puts on chain before it takes work, each step only if the chain does not
//! already say it: enough provider stake (or exactly what is missing), an offer of its measured
//! capacity, a place among the verifiers, and its endpoint (how peers reach it).

use super::Daemon;
use crate::{
	chain::{
		self,
		api::{self, runtime_types::pallet_marketplace::types::PriceSpec},
		subxt_err, AtBlock,
	},
	error::Result,
};
use verity_primitives::currency::VER;

/// How the offer is priced.
#[derive(Clone, Copy, Debug)]
pub enum Price {
	/// A fixed price per WU, in the smallest unit.
	Fixed(u128),
	/// The class's price index at start times this factor (per mille), as a fixed price.
	Index {
		/// Per mille of the index.
		permille: u32,
	},
}

/// Formats an amount in VER.
pub fn ver(amount: u128) -> String {
	let whole = amount / VER;
	let frac = amount % VER;
	match frac {
		0 => format!("{whole} VER"),
		f => format!("{whole}.{} VER", format!("{f:012}").trim_end_matches('0')),
	}
}

/// The outcome of setting up.
pub enum Setup {
	/// Offer, verifier registration and endpoint are on chain.
	Ready,
	/// Something only the operator can fix (the stake); the message says what.
	Waiting(String),
}

impl Daemon {
	/// Brings the chain up to this provider's settings (see the module docs).
	pub(super) async fn setup(&mut self, at: &AtBlock) -> Result<Setup> {
		let me = self.me;
		let storage = at.storage();
		// Stake.
		let min = chain::read(at, api::storage().staking_governance().parameters(), ())
			.await?
			.map(|p| p.min_provider_bond)
			.unwrap_or(0);
		let ledger = chain::read(at, api::storage().staking_governance().ledgers(), (me,)).await?;
		let active = ledger.as_ref().map(|l| l.active).unwrap_or(0);
		if active < min {
			let short = min - active;
			if !self.cfg.bond {
				return Ok(Setup::Waiting(format!(
					"account {me} has {} bonded; the minimum provider stake is {}: bond {} more \
					 (stakingGovernance.{}({short}) from this account, or restart with --bond)",
					ver(active),
					ver(min),
					ver(short),
					if ledger.is_some() { "bondExtra" } else { "bond" },
				)));
			}
			let call = match ledger {
				Some(_) => {
					self.submitter.submit(&api::tx().staking_governance().bond_extra(short)).await
				}
				None => self.submitter.submit(&api::tx().staking_governance().bond(short)).await,
			};
			call?;
			tracing::info!(bonded = %ver(short), "bonded the missing provider stake");
		}
		// Verifier.
		let verifiers = storage
			.fetch(api::storage().proof_of_compute().verifiers(), ())
			.await
			.map_err(subxt_err)?
			.decode()
			.map_err(subxt_err)?;
		if self.cfg.verify && !verifiers.0.contains(&me) {
			self.submitter.submit(&api::tx().proof_of_compute().register_verifier()).await?;
			tracing::info!("registered as a verifier");
		}
		// Offer.
		let price = match self.cfg.price {
			Price::Fixed(p) => p,
			Price::Index { permille } => {
				let index = storage
					.fetch(api::storage().marketplace().price_index(), (self.cfg.class,))
					.await
					.map_err(subxt_err)?
					.decode()
					.map_err(subxt_err)?;
				(index / 1000).saturating_mul(permille.into()).max(1)
			}
		};
		let (class, capacity, min_job, max_job) =
			(self.cfg.class, self.cfg.capacity, self.cfg.min_job, self.cfg.max_job);
		let existing =
			chain::read(at, api::storage().marketplace().provider_offers(), (me, class)).await?;
		let offer = match existing {
			Some(id) => chain::read(at, api::storage().marketplace().offers(), (id,))
				.await?
				.map(|o| (id, o)),
			None => None,
		};
		match offer {
			None => {
				self.submitter
					.submit(&api::tx().marketplace().publish_offer(
						class,
						capacity,
						PriceSpec::Fixed(price),
						min_job,
						max_job,
					))
					.await?;
				tracing::info!(class, capacity_milli_wu_s = capacity, price = %ver(price), "offer published");
			}
			Some((id, o))
				if o.capacity != capacity
					|| o.price != PriceSpec::Fixed(price)
					|| o.min_job != min_job
					|| o.max_job != max_job =>
			{
				// An offer with open tasks may only grow: keep the larger capacity until then.
				let capacity = if o.open_tasks > 0 { capacity.max(o.capacity) } else { capacity };
				self.submitter
					.submit(&api::tx().marketplace().update_offer(
						id,
						capacity,
						PriceSpec::Fixed(price),
						min_job,
						max_job,
					))
					.await?;
				tracing::info!(offer = id, capacity_milli_wu_s = capacity, price = %ver(price), "offer updated");
			}
			Some((id, _)) => tracing::info!(offer = id, "offer on chain is current"),
		}
		// Endpoint.
		let (peer, addrs) = self.endpoint();
		let current = chain::read(at, api::storage().marketplace().endpoints(), (me,)).await?;
		let same = current.as_ref().is_some_and(|e| {
			e.peer.0 == peer && e.addrs.0.iter().map(|a| a.0.clone()).collect::<Vec<_>>() == addrs
		});
		if !same {
			use api::runtime_types::bounded_collections::bounded_vec::BoundedVec;
			self.submitter
				.submit(&api::tx().marketplace().set_endpoint(
					BoundedVec(peer),
					BoundedVec(addrs.into_iter().map(BoundedVec).collect()),
				))
				.await?;
			tracing::info!(peer = %self.net.peer_id, "endpoint published");
		}
		Ok(Setup::Ready)
	}
}
