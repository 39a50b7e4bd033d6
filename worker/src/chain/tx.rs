//! The provider's transaction queue: one signer, nonces assigned here (several transactions in
//! flight go into one block), mortal eras, the fee read before sending, resubmission with a
//! fresh nonce when the pool drops or refuses a transaction for a stale nonce, and dispatch
//! errors named as polkadot.js shows them (`marketplace.NotAssigned`).

use super::{AccountId, Chain, Config};
use std::time::Duration;
use subxt::{
	config::DefaultExtrinsicParamsBuilder,
	error::{DispatchError, TransactionEventsError},
	transactions::{Payload, TransactionStatus},
};
use subxt_signer::sr25519::Keypair;
use tokio::sync::Mutex;

/// Blocks a transaction stays valid for (its mortal era).
pub const MORTALITY: u64 = 64;
/// Times one transaction is re-signed and resent after the pool dropped it.
const ATTEMPTS: u32 = 4;

/// A transaction in a block, with its own events.
pub struct Included {
	/// The block it is in (a best block: it may still be retracted).
	pub block: subxt::utils::H256,
	/// That block's number.
	pub number: u64,
	/// Its events in that block.
	pub events: subxt::extrinsics::ExtrinsicEvents<Config>,
	/// The fee estimated before sending, in the smallest unit.
	pub fee: u128,
}

/// Why a transaction did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum TxError {
	/// It was included and failed: the pallet's error by name, as polkadot.js shows it.
	#[error("{call} failed: {error}{}", if .docs.is_empty() { String::new() } else { format!(" ({})", .docs) })]
	Dispatch {
		/// `pallet.call`.
		call: String,
		/// `pallet.Error`, or the dispatch error's description.
		error: String,
		/// The error's documentation.
		docs: String,
	},
	/// The pool refused it or it never made it into a block.
	#[error("{call} was not included: {message}")]
	NotIncluded {
		/// `pallet.call`.
		call: String,
		/// What the node said.
		message: String,
	},
	/// The node could not be asked.
	#[error("{call}: {message}")]
	Node {
		/// `pallet.call`.
		call: String,
		/// What failed.
		message: String,
	},
}

impl TxError {
	/// The pallet error's name, if the transaction failed in its pallet.
	pub fn pallet_error(&self) -> Option<&str> {
		match self {
			TxError::Dispatch { error, .. } => error.split('.').nth(1),
			_ => None,
		}
	}
}

/// The lower-camel name polkadot.js gives a pallet (`ProofOfCompute` → `proofOfCompute`).
fn section(pallet: &str) -> String {
	let mut c = pallet.chars();
	match c.next() {
		Some(f) => f.to_lowercase().chain(c).collect(),
		None => String::new(),
	}
}

fn named(call: &str, e: DispatchError) -> TxError {
	let (error, docs) = match &e {
		DispatchError::Module(m) => match m.details() {
			Ok(d) => (
				format!("{}.{}", section(d.pallet.name()), d.variant.name),
				d.variant.docs.join(" ").trim().to_string(),
			),
			Err(_) => (m.details_string(), String::new()),
		},
		other => (other.to_string(), String::new()),
	};
	TxError::Dispatch { call: call.into(), error, docs }
}

/// Signs and sends one account's transactions.
pub struct Submitter {
	chain: Mutex<Option<Chain>>,
	signer: Keypair,
	account: AccountId,
	next_nonce: Mutex<Option<u64>>,
}

impl Submitter {
	/// A queue for `signer`'s transactions; it sends once [`Submitter::set_chain`] gave it a node.
	pub fn new(signer: Keypair) -> Self {
		let account = signer.public_key().to_account_id();
		Submitter { chain: Mutex::new(None), signer, account, next_nonce: Mutex::new(None) }
	}

	/// The signer's account.
	pub fn account(&self) -> &AccountId {
		&self.account
	}

	/// Uses `chain` from now on (after a reconnect); nonces are read again.
	pub async fn set_chain(&self, chain: Chain) {
		*self.chain.lock().await = Some(chain);
		*self.next_nonce.lock().await = None;
	}

	/// Signs `call`, sends it and waits until it is in a best block; returns its events, or
	/// its dispatch error by name. A transaction the pool drops or refuses for its nonce is sent
	/// again with a fresh nonce.
	pub async fn submit<C: Payload>(&self, call: &C) -> Result<Included, TxError> {
		let name = format!("{}.{}", section(call.pallet_name()), call.call_name());
		let node = |e: &dyn std::fmt::Display| TxError::Node {
			call: name.clone(),
			message: e.to_string(),
		};
		let mut last = String::new();
		for attempt in 0..ATTEMPTS {
			if attempt > 0 {
				tokio::time::sleep(Duration::from_millis(500)).await;
			}
			let Some(chain) = self.chain.lock().await.clone() else {
				return Err(node(&"not connected to a node"));
			};
			// Nonce, signature and submission under the lock: the next transaction gets the next
			// nonce only once this one is in the pool.
			let (mut progress, fee) = {
				let mut next = self.next_nonce.lock().await;
				let nonce = match *next {
					Some(n) => n,
					None => chain
						.rpc
						.system_account_next_index(&self.account)
						.await
						.map_err(|e| node(&e))?,
				};
				let at = chain.client.at_current_block().await.map_err(|e| node(&e))?;
				let params = DefaultExtrinsicParamsBuilder::<Config>::new()
					.mortal(MORTALITY)
					.nonce(nonce)
					.build();
				let tx = at
					.tx()
					.create_signed(call, &self.signer, params)
					.await
					.map_err(|e| node(&e))?;
				let fee = tx.partial_fee_estimate().await.unwrap_or(0);
				match tx.submit_and_watch().await {
					Ok(progress) => {
						*next = Some(nonce + 1);
						(progress, fee)
					}
					Err(e) => {
						// Refused at submission (stale nonce, pool full…): read the nonce again.
						*next = None;
						last = e.to_string();
						tracing::warn!(call = %name, nonce, error = %last, "transaction refused; retrying");
						continue;
					}
				}
			};
			loop {
				match progress.next().await {
					Some(Ok(TransactionStatus::InBestBlock(in_block)))
					| Some(Ok(TransactionStatus::InFinalizedBlock(in_block))) => {
						return match in_block.wait_for_success().await {
							Ok(events) => {
								let block = in_block.block_hash();
								let number = chain
									.rpc
									.chain_get_header(Some(block))
									.await
									.map_err(|e| node(&e))?
									.map_or(0, |h| h.number);
								Ok(Included { block, number, events, fee })
							}
							Err(TransactionEventsError::ExtrinsicFailed(e)) => Err(named(&name, e)),
							Err(e) => Err(node(&e)),
						};
					}
					Some(Ok(TransactionStatus::Dropped { message }))
					| Some(Ok(TransactionStatus::Invalid { message }))
					| Some(Ok(TransactionStatus::Error { message })) => {
						*self.next_nonce.lock().await = None;
						tracing::warn!(call = %name, %message, "transaction dropped; resending");
						last = message;
						break;
					}
					Some(Ok(_)) => {}
					Some(Err(e)) => {
						*self.next_nonce.lock().await = None;
						last = e.to_string();
						break;
					}
					None => {
						*self.next_nonce.lock().await = None;
						last = "the node stopped reporting on it".into();
						break;
					}
				}
			}
		}
		Err(TxError::NotIncluded { call: name, message: last })
	}
}
