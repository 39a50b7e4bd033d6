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
	/// The class's price index times this factor (per mille): at 1000 the chain's own
	/// `FollowIndex`; otherwise a fixed price, re-set when the index moves it by more than 2 %.
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
		match self.offer_change(at, 0).await? {
			None => tracing::info!("offer on chain is current"),
			Some(change) => {
				let OfferChange { id, capacity, price } = change;
				let (class, min_job, max_job) =
					(self.cfg.class, self.cfg.min_job, self.cfg.max_job);
				match id {
					None => {
						self.submitter
							.submit(&api::tx().marketplace().publish_offer(
								class,
								capacity,
								price.clone(),
								min_job,
								max_job,
							))
							.await?
					}
					Some(id) => {
						self.submitter
							.submit(&api::tx().marketplace().update_offer(
								id,
								capacity,
								price.clone(),
								min_job,
								max_job,
							))
							.await?
					}
				};
				tracing::info!(offer = ?id, class, capacity_milli_wu_s = capacity, price = %PriceText(&price), "offer put on chain");
			}
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

/// What the offer on chain must become.
pub(super) struct OfferChange {
	/// The offer to update; `None`: publish a new one.
	pub id: Option<u64>,
	/// Capacity, milli-WU/s.
	pub capacity: u64,
	/// Price.
	pub price: PriceSpec<u128>,
}

/// Displays a price spec in VER.
pub(super) struct PriceText<'a>(pub &'a PriceSpec<u128>);

impl std::fmt::Display for PriceText<'_> {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		match self.0 {
			PriceSpec::Fixed(p) => write!(f, "{} per WU", ver(*p)),
			PriceSpec::FollowIndex => write!(f, "the class's price index"),
		}
	}
}

impl Daemon {
	/// The price this provider asks at `at`: fixed, the chain's own index (factor 1), or the
	/// class's index times the factor as a fixed price.
	async fn price_at(&self, at: &AtBlock) -> Result<PriceSpec<u128>> {
		Ok(match self.cfg.price {
			Price::Fixed(p) => PriceSpec::Fixed(p),
			Price::Index { permille: 1000 } => PriceSpec::FollowIndex,
			Price::Index { permille } => {
				let index =
					chain::read(at, api::storage().marketplace().price_index(), (self.cfg.class,))
						.await?
						.unwrap_or(0);
				PriceSpec::Fixed((index / 1000).saturating_mul(permille.into()).max(1))
			}
		})
	}

	/// How the chain's offer must change to match this provider's settings at `at`; `None` when
	/// it matches. A fixed price within `slack_permille` of the wanted one counts as matching (a
	/// provider following the index does not pay an update for every small move).
	pub(super) async fn offer_change(
		&self,
		at: &AtBlock,
		slack_permille: u128,
	) -> Result<Option<OfferChange>> {
		let (me, class) = (self.me, self.cfg.class);
		let (price, existing) = tokio::try_join!(self.price_at(at), async {
			Ok(chain::read(at, api::storage().marketplace().provider_offers(), (me, class)).await?)
		})?;
		let capacity = self.cfg.capacity;
		let Some(id) = existing else {
			return Ok(Some(OfferChange { id: None, capacity, price }));
		};
		let Some(o) = chain::read(at, api::storage().marketplace().offers(), (id,)).await? else {
			return Ok(Some(OfferChange { id: None, capacity, price }));
		};
		let close = match (&o.price, &price) {
			(PriceSpec::Fixed(have), PriceSpec::Fixed(want)) => {
				have.abs_diff(*want).saturating_mul(1000) <= want.saturating_mul(slack_permille)
			}
			(have, want) => have == want,
		};
		// An offer with open tasks may only grow: keep the larger capacity until then.
		let capacity = if o.open_tasks > 0 { capacity.max(o.capacity) } else { capacity };
		let same = close
			&& o.capacity == capacity
			&& o.min_job == self.cfg.min_job
			&& o.max_job == self.cfg.max_job;
		Ok((!same).then_some(OfferChange { id: Some(id), capacity, price }))
	}
}
