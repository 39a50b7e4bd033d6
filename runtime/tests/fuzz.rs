//! A runtime call fuzzer, in the spirit of SRLabs' substrate-runtime-fuzzer: random sequences of
//! every Verity pallet's calls (plus balance transfers, batches and Root calls through sudo),
//! with arguments generated from the calls' own type information — random, or drawn from pools
//! of well-formed values (known accounts, valid CIDs, kernel ids seen on chain, amounts in whole
//! VER, small ids) — signed by the dev chain's twelve endowed accounts and applied to the real
//! runtime block by block through `Executive`, the node's path: signature, nonce, fees and
//! block weight are all checked as on chain. After every block:
//!
//! - `try_state` of every Verity pallet holds;
//! - total issuance equals the sum of every account's free and reserved balance;
//! - the block's weight (hooks, inherents and extrinsics) is within the block's limit (in a
//!   block that starts a session, leaving out the whole block `pallet_session` claims for it);
//! - nothing panicked.
//!
//! Each run starts from the dev genesis with its own seed. `cargo test -p verity-runtime --test
//! fuzz` runs a bounded number of seeds; `scripts/fuzz.sh SECONDS [FIRST_SEED]` runs on for as
//! long as asked. A failure names its seed and block: `VERITY_FUZZ_SEED=<seed> VERITY_FUZZ_RUNS=1`
//! replays it.

mod common;

use codec::{Compact, Decode, Encode};
use polkadot_sdk::{
	pallet_balances, pallet_session, pallet_sudo, pallet_timestamp, sp_consensus_babe,
	sp_core::{Pair, H256},
	sp_keyring::Sr25519Keyring,
	sp_runtime::{
		generic::{Digest, DigestItem, Era},
		traits::Header as _,
		MultiAddress, MultiSignature,
	},
	*,
};
use scale_info::{PortableRegistry, TypeDef, TypeDefPrimitive};
use std::time::{Duration, Instant};
use verity_primitives::cid::Cid;
use verity_primitives::Header;
use verity_runtime::{
	time::SLOT_DURATION, AccountId, Executive, Runtime, RuntimeCall, SignedPayload, TxExtension,
	UncheckedExtrinsic,
};

/// Pallets whose calls are drawn (by pallet index in `construct_runtime`), with a weight each:
/// mostly Verity's five, some transfers, batches and sudo.
const PALLETS: [(&str, u32); 8] = [
	("Balances", 1),
	("Utility", 1),
	("Sudo", 3),
	("FeeSettlement", 4),
	("StakingGovernance", 4),
	("AivmRegistry", 3),
	("Marketplace", 6),
	("ProofOfCompute", 5),
];
/// Calls that move a job along (drawn four times as often as the others of their pallet).
const FLOW: [&str; 10] = [
	"accept_task",
	"submit_result",
	"heartbeat",
	"commit",
	"reveal",
	"commit_epoch",
	"reveal_leaf",
	"post_job",
	"vote",
	"redeem",
];
const BLOCKS_PER_RUN: u32 = 40;
const CALLS_PER_BLOCK: u32 = 12;
/// Seeds the bounded run (`cargo test`) covers, about a minute on the CI machine.
const DEFAULT_RUNS: u64 = 3;

/// splitmix64: small, seedable, good enough to drive a fuzzer.
struct Rng(u64);
impl Rng {
	fn next(&mut self) -> u64 {
		self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
		let mut z = self.0;
		z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
		z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
		z ^ (z >> 31)
	}
	fn below(&mut self, n: u64) -> u64 {
		if n == 0 {
			0
		} else {
			self.next() % n
		}
	}
	fn chance(&mut self, percent: u64) -> bool {
		self.below(100) < percent
	}
	fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
		&items[self.below(items.len() as u64) as usize]
	}
}

/// Well-formed values the generator draws from, refreshed from chain events.
struct Pools {
	accounts: Vec<(Sr25519Keyring, AccountId)>,
	hashes: Vec<H256>,
	texts: Vec<Vec<u8>>,
}

impl Pools {
	fn new() -> Self {
		let accounts = Sr25519Keyring::well_known().map(|k| (k, k.to_account_id())).collect();
		let mut texts: Vec<Vec<u8>> = (0u8..6)
			.map(|i| Cid::of_raw_bytes(&[i]).to_text().into_bytes())
			.chain([
				b"2.11.0".to_vec(),
				br#"{"lr":0.1,"batch":32}"#.to_vec(),
				b"/ip4/127.0.0.1/tcp/4001".to_vec(),
				b"12D3KooWSQeUoENYG7SDg9yGUzdkAfv8jvzDz5bAiu2d7WFFapKM".to_vec(),
			])
			.collect();
		texts.push(Vec::new());
		Self { accounts, hashes: vec![H256::zero()], texts }
	}

	/// Every 32-byte value in this block's events (kernel ids, digests, roots) joins the pool.
	fn learn(&mut self) {
		for record in frame_system::Pallet::<Runtime>::read_events_no_consensus() {
			let bytes = record.event.encode();
			if bytes.len() >= 34 && self.hashes.len() < 256 {
				let h = H256::from_slice(&bytes[2..34]);
				if !self.hashes.contains(&h) {
					self.hashes.push(h);
				}
			}
		}
	}
}

/// Generates SCALE bytes for type `id` from its type information.
struct Generator<'a> {
	registry: &'a PortableRegistry,
	rng: &'a mut Rng,
	pools: &'a Pools,
	depth: u32,
}

impl Generator<'_> {
	fn int(&mut self, bits: u32) -> u128 {
		let max = if bits == 128 { u128::MAX } else { (1u128 << bits) - 1 };
		let v: u128 = match self.rng.below(10) {
			0 => 0,
			1 => 1,
			2..=4 => u128::from(self.rng.below(16)),
			5 | 6 => {
				// Whole VER (10^12), milli-VER and multiples: balances, prices, bonds.
				let unit = 10u128.pow(*self.rng.pick(&[9u32, 12, 13, 15, 16, 17]));
				unit * u128::from(1 + self.rng.below(100))
			}
			7 => u128::from(self.rng.below(1_000_000)),
			8 => max,
			_ => (u128::from(self.rng.next()) << 64) | u128::from(self.rng.next()),
		};
		v & max
	}

	fn bytes(&mut self, out: &mut Vec<u8>) {
		let b: Vec<u8> = if self.rng.chance(80) {
			self.rng.pick(&self.pools.texts).clone()
		} else {
			(0..self.rng.below(48)).map(|_| self.rng.next() as u8).collect()
		};
		Compact(b.len() as u32).encode_to(out);
		out.extend(b);
	}

	fn gen(&mut self, id: u32, out: &mut Vec<u8>) {
		let ty = self.registry.resolve(id).expect("a type of the registry");
		let path = ty.path.segments.join("::");
		if path.ends_with("AccountId32") {
			if self.rng.chance(95) {
				out.extend(self.rng.pick(&self.pools.accounts).1.encode());
			} else {
				out.extend((0..32).map(|_| self.rng.next() as u8));
			}
			return;
		}
		if path == "primitive_types::H256" {
			if self.rng.chance(85) {
				out.extend(self.rng.pick(&self.pools.hashes).encode());
			} else {
				out.extend((0..32).map(|_| self.rng.next() as u8));
			}
			return;
		}
		if path.ends_with("MultiAddress") {
			// Id(AccountId32): the variant every client sends.
			out.push(0);
			out.extend(self.rng.pick(&self.pools.accounts).1.encode());
			return;
		}
		match &ty.type_def {
			TypeDef::Composite(c) => {
				for f in &c.fields {
					self.gen(f.ty.id, out);
				}
			}
			TypeDef::Variant(v) => {
				let variants: Vec<_> = v.variants.iter().collect();
				let variant = if path.ends_with("RuntimeCall") {
					self.depth += 1;
					// Nested calls (batch, sudo): no further nesting.
					let nested = self.depth > 1;
					let allowed: Vec<_> = variants
						.iter()
						.filter_map(|var| {
							let (_, w) = PALLETS.iter().find(|(p, _)| *p == var.name)?;
							let wrapper = var.name == "Utility" || var.name == "Sudo";
							(!(nested && wrapper)).then_some((*var, *w))
						})
						.collect();
					let total: u32 = allowed.iter().map(|(_, w)| w).sum();
					let mut r = self.rng.below(u64::from(total)) as u32;
					let mut chosen = allowed[0].0;
					for (var, w) in &allowed {
						if r < *w {
							chosen = var;
							break;
						}
						r -= w;
					}
					chosen
				} else {
					// The sudo pallet: only `sudo(call)`; balances: transfers; utility: batches.
					let candidates: Vec<_> = variants
						.iter()
						.copied()
						.filter(|var| {
							let name = var.name.as_str();
							if !path.ends_with("Call") {
								true
							} else if path.contains("pallet_sudo") {
								name == "sudo"
							} else if path.contains("pallet_balances") {
								name.starts_with("transfer")
							} else if path.contains("pallet_utility") {
								name == "batch" || name == "batch_all"
							} else {
								true
							}
						})
						.collect();
					let weight = |name: &str| if FLOW.contains(&name) { 4 } else { 1 };
					let total: u64 = candidates.iter().map(|v| weight(&v.name)).sum();
					let mut r = self.rng.below(total);
					let mut chosen = candidates[0];
					for var in &candidates {
						if r < weight(&var.name) {
							chosen = var;
							break;
						}
						r -= weight(&var.name);
					}
					chosen
				};
				out.push(variant.index);
				for f in &variant.fields {
					self.gen(f.ty.id, out);
				}
				if path.ends_with("RuntimeCall") {
					self.depth -= 1;
				}
			}
			TypeDef::Sequence(s) => {
				let inner = self.registry.resolve(s.type_param.id).expect("inner type");
				if matches!(inner.type_def, TypeDef::Primitive(TypeDefPrimitive::U8)) {
					return self.bytes(out);
				}
				let len = if self.depth > 1 { self.rng.below(2) } else { self.rng.below(4) };
				Compact(len as u32).encode_to(out);
				for _ in 0..len {
					self.gen(s.type_param.id, out);
				}
			}
			TypeDef::Array(a) => {
				for _ in 0..a.len {
					self.gen(a.type_param.id, out);
				}
			}
			TypeDef::Tuple(t) => {
				for f in &t.fields {
					self.gen(f.id, out);
				}
			}
			TypeDef::Primitive(p) => match p {
				TypeDefPrimitive::Bool => out.push(self.rng.chance(50) as u8),
				TypeDefPrimitive::Char => (u32::from('a')).encode_to(out),
				TypeDefPrimitive::Str => self.bytes(out),
				TypeDefPrimitive::U8 => out.push(self.int(8) as u8),
				TypeDefPrimitive::U16 => (self.int(16) as u16).encode_to(out),
				TypeDefPrimitive::U32 => (self.int(32) as u32).encode_to(out),
				TypeDefPrimitive::U64 => (self.int(64) as u64).encode_to(out),
				TypeDefPrimitive::U128 => self.int(128).encode_to(out),
				TypeDefPrimitive::I8 => out.push(self.int(8) as u8),
				TypeDefPrimitive::I16 => (self.int(16) as u16).encode_to(out),
				TypeDefPrimitive::I32 => (self.int(32) as u32).encode_to(out),
				TypeDefPrimitive::I64 => (self.int(64) as u64).encode_to(out),
				TypeDefPrimitive::I128 => self.int(128).encode_to(out),
				TypeDefPrimitive::U256 | TypeDefPrimitive::I256 => {
					out.extend((0..32).map(|_| self.rng.next() as u8))
				}
			},
			TypeDef::Compact(c) => {
				let inner = self.registry.resolve(c.type_param.id).expect("compact inner");
				let bits = match inner.type_def {
					TypeDef::Primitive(TypeDefPrimitive::U8) => 8,
					TypeDef::Primitive(TypeDefPrimitive::U16) => 16,
					TypeDef::Primitive(TypeDefPrimitive::U32) => 32,
					TypeDef::Primitive(TypeDefPrimitive::U64) => 64,
					_ => 128,
				};
				Compact(self.int(bits)).encode_to(out);
			}
			TypeDef::BitSequence(_) => Compact(0u32).encode_to(out),
		}
	}
}

/// Opens block `number` on `parent` at `slot`, as BABE's author would (a secondary slot claim
/// by authority 0), and applies the timestamp inherent.
fn open_block(number: u32, parent: H256, slot: u64) {
	let pre = sp_consensus_babe::digests::PreDigest::SecondaryPlain(
		sp_consensus_babe::digests::SecondaryPlainPreDigest {
			authority_index: 0,
			slot: slot.into(),
		},
	);
	let digest = Digest {
		logs: vec![DigestItem::PreRuntime(sp_consensus_babe::BABE_ENGINE_ID, pre.encode())],
	};
	let header = Header::new(number, Default::default(), Default::default(), parent, digest);
	Executive::initialize_block(&header);
	let now = slot * SLOT_DURATION;
	let inherent =
		UncheckedExtrinsic::new_bare(RuntimeCall::Timestamp(pallet_timestamp::Call::set { now }));
	Executive::apply_extrinsic(inherent).expect("timestamp applies").expect("timestamp ok");
	Executive::inherents_applied();
}

/// `call` signed by `who` exactly as a wallet signs it (immortal, the account's next nonce).
fn signed(call: RuntimeCall, who: Sr25519Keyring) -> UncheckedExtrinsic {
	let account = who.to_account_id();
	let nonce = frame_system::Pallet::<Runtime>::account_nonce(&account);
	let ext: TxExtension = (
		frame_system::CheckNonZeroSender::new(),
		frame_system::CheckSpecVersion::new(),
		frame_system::CheckTxVersion::new(),
		frame_system::CheckGenesis::new(),
		frame_system::CheckEra::from(Era::Immortal),
		frame_system::CheckNonce::from(nonce),
		frame_system::CheckWeight::new(),
		pallet_transaction_payment::ChargeTransactionPayment::from(0),
		frame_system::WeightReclaim::new(),
	);
	let payload = SignedPayload::new(call.clone(), ext.clone()).expect("implicit data");
	let signature = payload.using_encoded(|p| who.pair().sign(p));
	UncheckedExtrinsic::new_signed(
		call,
		MultiAddress::Id(account),
		MultiSignature::Sr25519(signature),
		ext,
	)
}

fn cid(bytes: &[u8]) -> Vec<u8> {
	Cid::of_raw_bytes(bytes).to_text().into_bytes()
}

/// Calls that give the random ones something to act on, signed as users sign them: Bob registers
/// a kernel, six providers bond, publish an offer and register as verifiers (block 1); Ferdie
/// posts an inference job and a training job (block 2). Random calls then meet live kernels,
/// offers, jobs, tasks, rounds and epochs.
fn setup_calls(block: u32, rng: &mut Rng) -> Vec<(Sr25519Keyring, RuntimeCall)> {
	use verity_primitives::kernel::{AggregationRule, DType, DeviceClass, Environment, TensorSpec};
	use Sr25519Keyring::*;
	const VER: u128 = verity_primitives::currency::VER;
	let providers = [Charlie, Dave, Eve, Ferdie, AliceStash, BobStash];
	let spec = |shape: Vec<u32>| TensorSpec { dtype: DType::F32, shape: shape.try_into().unwrap() };
	let kernel_call = pallet_aivm_registry::Call::<Runtime>::register_kernel {
		archive: cid(&rng.next().to_le_bytes()).try_into().unwrap(),
		environment: Environment {
			libtorch: b"2.11.0".to_vec().try_into().unwrap(),
			device: DeviceClass::Cpu,
			dtype: DType::F32,
			deterministic_algorithms: true,
			tf32_disabled: true,
			seed: rng.next(),
		},
		inputs: vec![spec(vec![0, 64])].try_into().unwrap(),
		outputs: vec![spec(vec![0, 10])].try_into().unwrap(),
		inference_flops: 10_000_000_000,
		train_flops: 30_000_000_000,
		rule: AggregationRule::ExactDigest,
		supersedes: None,
	};
	match block {
		1 => {
			// Short windows (as the e2e tests set them) so that rounds and epochs close in a run.
			let poc = pallet_proof_of_compute::Params::<Runtime>::get().expect("genesis params");
			let poc = pallet_proof_of_compute::PocParams {
				commit_window: 2,
				reveal_window: 2,
				epoch_window: 2,
				..poc
			};
			let market = pallet_marketplace::Params::<Runtime>::get().expect("genesis params");
			let market = pallet_marketplace::MarketParams { accept_window: 3, ..market };
			let sudo = |call| RuntimeCall::Sudo(pallet_sudo::Call::sudo { call: Box::new(call) });
			let mut calls = vec![
				(
					Alice,
					sudo(RuntimeCall::ProofOfCompute(pallet_proof_of_compute::Call::set_params {
						params: poc,
					})),
				),
				(
					Alice,
					sudo(RuntimeCall::Marketplace(pallet_marketplace::Call::set_params {
						params: market,
					})),
				),
				(Bob, RuntimeCall::AivmRegistry(kernel_call)),
			];
			for (i, p) in providers.into_iter().enumerate() {
				let offer = pallet_marketplace::Call::<Runtime>::publish_offer {
					class: 0,
					capacity: 1_000 + rng.below(1_000),
					price: pallet_marketplace::PriceSpec::Fixed(VER / 1_000 * (4 + i as u128)),
					min_job: 1,
					max_job: u64::MAX,
				};
				calls.extend([
					(
						p,
						RuntimeCall::StakingGovernance(pallet_staking_governance::Call::bond {
							amount: 2_000 * VER,
						}),
					),
					(p, RuntimeCall::Marketplace(offer)),
					(
						p,
						RuntimeCall::ProofOfCompute(
							pallet_proof_of_compute::Call::register_verifier {},
						),
					),
				]);
			}
			calls
		}
		2 => {
			let Some(kernel) = pallet_aivm_registry::Kernels::<Runtime>::iter_keys().next() else {
				return vec![];
			};
			let deadline = frame_system::Pallet::<Runtime>::block_number() + 100;
			let job = |kind| {
				RuntimeCall::Marketplace(pallet_marketplace::Call::<Runtime>::post_job {
					kernel,
					class: 0,
					kind,
					samples: 600,
					max_price: 50 * VER / 1_000,
					deadline,
				})
			};
			vec![
				(
					Ferdie,
					job(pallet_marketplace::JobKindInput::Inference {
						inputs: vec![cid(b"input").try_into().unwrap()].try_into().unwrap(),
						committee: 3,
					}),
				),
				(
					Ferdie,
					job(pallet_marketplace::JobKindInput::Training {
						dataset: cid(b"dataset").try_into().unwrap(),
						hyperparams: b"{}".to_vec().try_into().unwrap(),
						epochs: 2,
						group_size: 2,
					}),
				),
			]
		}
		_ => vec![],
	}
}

/// What the fuzzer committed, so that its reveals can open the commitments.
type Committed = std::collections::BTreeMap<(u64, AccountId), (H256, H256)>;

/// Steers a random call towards the account that may make it: a task's calls to its provider,
/// a round's commit and reveal to one of its members with a commitment that opens (most members
/// honest, some not, so rounds accept, reject, slash and re-run). Returns the signer.
fn steer(
	call: &mut RuntimeCall,
	rng: &mut Rng,
	pools: &Pools,
	committed: &mut Committed,
) -> Sr25519Keyring {
	use pallet_marketplace::Call as M;
	use pallet_proof_of_compute::Call as P;
	let keyring_of =
		|who: &AccountId| pools.accounts.iter().find(|(_, a)| a == who).map(|(k, _)| *k);
	let random = rng.pick(&pools.accounts).0;
	if !rng.chance(75) {
		return random;
	}
	let task_provider = |task: u64| {
		pallet_marketplace::Tasks::<Runtime>::get(task).and_then(|t| keyring_of(&t.provider))
	};
	// Most of the time the id of something that exists.
	let live = |rng: &mut Rng, keys: Vec<u64>| (!keys.is_empty()).then(|| *rng.pick(&keys));
	match call {
		RuntimeCall::Marketplace(
			M::accept_task { task } | M::decline_task { task } | M::heartbeat { task },
		)
		| RuntimeCall::Marketplace(M::submit_result { task, .. }) => {
			if let Some(t) = live(rng, pallet_marketplace::Tasks::<Runtime>::iter_keys().collect())
			{
				*task = t;
			}
		}
		RuntimeCall::ProofOfCompute(P::commit_epoch { task, epoch, steps, .. }) => {
			// Training tasks, with their job's steps per epoch.
			let training: Vec<(u64, u32)> = pallet_marketplace::Tasks::<Runtime>::iter()
				.filter_map(|(id, t)| match pallet_marketplace::Jobs::<Runtime>::get(t.job)?.kind {
					pallet_marketplace::JobKind::Training { steps, .. } => Some((id, steps)),
					pallet_marketplace::JobKind::Inference { .. } => None,
				})
				.collect();
			if let Some(&(t, s)) = (!training.is_empty()).then(|| rng.pick(&training)) {
				*task = t;
				*epoch = pallet_proof_of_compute::NextEpoch::<Runtime>::get(t);
				if rng.chance(90) {
					*steps = s;
				}
			}
		}
		RuntimeCall::ProofOfCompute(P::commit { round, .. } | P::reveal { round, .. }) => {
			let rounds = pallet_proof_of_compute::Rounds::<Runtime>::iter_keys().collect();
			if let Some(r) = live(rng, rounds) {
				*round = r;
			}
		}
		RuntimeCall::ProofOfCompute(P::reveal_leaf { audit, .. }) => {
			let audits = pallet_proof_of_compute::Audits::<Runtime>::iter_keys().collect();
			if let Some(a) = live(rng, audits) {
				*audit = a;
			}
		}
		RuntimeCall::AivmRegistry(pallet_aivm_registry::Call::register_trained_kernel {
			job,
			..
		}) => {
			let trained = pallet_marketplace::TrainedModels::<Runtime>::iter_keys().collect();
			if let Some(j) = live(rng, trained) {
				*job = j;
			}
		}
		_ => {}
	}
	match call {
		RuntimeCall::Marketplace(
			M::accept_task { task } | M::decline_task { task } | M::heartbeat { task },
		)
		| RuntimeCall::Marketplace(M::submit_result { task, .. })
		| RuntimeCall::ProofOfCompute(P::commit_epoch { task, .. }) => {
			task_provider(*task).unwrap_or(random)
		}
		RuntimeCall::AivmRegistry(pallet_aivm_registry::Call::register_trained_kernel {
			job,
			..
		}) => pallet_marketplace::TrainedModels::<Runtime>::get(*job)
			.and_then(|m| keyring_of(&m.buyer))
			.unwrap_or(random),
		RuntimeCall::ProofOfCompute(P::commit { round, commitment }) => {
			let Some(r) = pallet_proof_of_compute::Rounds::<Runtime>::get(*round) else {
				return random;
			};
			let who = r.members[rng.below(r.members.len() as u64) as usize].clone();
			let honest = H256(sp_io::hashing::blake2_256(&round.encode()));
			let digest = if rng.chance(85) { honest } else { H256::repeat_byte(0xba) };
			let nonce = H256(sp_io::hashing::blake2_256(&(*round, &who).encode()));
			*commitment = verity_primitives::commit::commitment(*round, &digest, &nonce, &who);
			committed.insert((*round, who.clone()), (digest, nonce));
			keyring_of(&who).unwrap_or(random)
		}
		RuntimeCall::ProofOfCompute(P::reveal { round, digest, result, nonce, summary }) => {
			let Some(((_, who), (d, n))) =
				committed.iter().find(|((r, _), _)| r == round).map(|(k, v)| (k.clone(), *v))
			else {
				return random;
			};
			*digest = d;
			*nonce = n;
			*result = cid(d.as_bytes()).try_into().unwrap();
			*summary = Default::default();
			committed.remove(&(*round, who.clone()));
			keyring_of(&who).unwrap_or(random)
		}
		_ => random,
	}
}

/// The invariants checked after every block; `Err` names the one that broke. `rotated`: the
/// block started a new session, for which `pallet_session` claims the whole block (upstream's
/// rule), so that claim is left out of the weight check.
fn check_invariants(rotated: bool) -> Result<(), String> {
	type TryState = fn() -> Result<(), sp_runtime::TryRuntimeError>;
	let pallets: [(&str, TryState); 5] = [
		("fee-settlement", pallet_fee_settlement::Pallet::<Runtime>::do_try_state),
		("staking-governance", pallet_staking_governance::Pallet::<Runtime>::do_try_state),
		("aivm-registry", pallet_aivm_registry::Pallet::<Runtime>::do_try_state),
		("marketplace", pallet_marketplace::Pallet::<Runtime>::do_try_state),
		("proof-of-compute", pallet_proof_of_compute::Pallet::<Runtime>::do_try_state),
	];
	for (name, try_state) in pallets {
		try_state().map_err(|e| format!("{name} try_state: {e:?}"))?;
	}
	let issuance = pallet_balances::TotalIssuance::<Runtime>::get();
	let held: u128 =
		frame_system::Account::<Runtime>::iter().map(|(_, a)| a.data.free + a.data.reserved).sum();
	if issuance != held {
		return Err(format!("total issuance {issuance} but accounts hold {held}"));
	}
	let per_class = frame_system::Pallet::<Runtime>::block_weight();
	let max = <Runtime as frame_system::Config>::BlockWeights::get().max_block;
	let mut weight = per_class.total();
	if rotated {
		weight = weight.saturating_sub(max);
	}
	if !weight.all_lte(max) {
		use polkadot_sdk::frame_support::dispatch::DispatchClass::*;
		let ms = |c| per_class.get(c).ref_time() / 1_000_000_000;
		return Err(format!(
			"block weight {} ms over the limit {} ms (normal {} ms, operational {} ms, mandatory {} ms)",
			weight.ref_time() / 1_000_000_000,
			max.ref_time() / 1_000_000_000,
			ms(Normal),
			ms(Operational),
			ms(Mandatory)
		));
	}
	Ok(())
}

/// What one run did, for the summary.
#[derive(Default)]
struct Tally {
	blocks: u32,
	applied: u32,
	succeeded: u32,
	invalid: u32,
	calls: std::collections::BTreeMap<String, (u32, u32)>,
}

/// One run: the dev genesis, then `BLOCKS_PER_RUN` blocks of random calls.
fn run(
	seed: u64,
	registry: &PortableRegistry,
	call_ty: u32,
	tally: &mut Tally,
) -> Result<(), String> {
	let mut rng = Rng(seed);
	let mut pools = Pools::new();
	let mut committed = Committed::new();
	let mut ext = common::preset_genesis(sp_genesis_builder::DEV_RUNTIME_PRESET);
	ext.execute_with(|| {
		let mut parent = frame_system::Pallet::<Runtime>::block_hash(0);
		// Slots as the dev chain numbers them from its genesis time onwards.
		let mut slot = 1_000_000u64;
		for number in 1..=BLOCKS_PER_RUN {
			slot += 1 + rng.below(2);
			let session = pallet_session::CurrentIndex::<Runtime>::get();
			open_block(number, parent, slot);
			let rotated = pallet_session::CurrentIndex::<Runtime>::get() != session;
			let mut calls = setup_calls(number, &mut rng);
			for _ in 0..CALLS_PER_BLOCK {
				let mut bytes = Vec::new();
				Generator { registry, rng: &mut rng, pools: &pools, depth: 0 }
					.gen(call_ty, &mut bytes);
				// Values beyond a bounded type's bound do not decode: a client cannot send them.
				let Ok(mut call) = RuntimeCall::decode(&mut &bytes[..]) else { continue };
				let who = if matches!(call, RuntimeCall::Sudo(_)) && rng.chance(80) {
					Sr25519Keyring::Alice
				} else {
					steer(&mut call, &mut rng, &pools, &mut committed)
				};
				calls.push((who, call));
			}
			for (who, call) in calls {
				let name = call_name(&call);
				if std::env::var("VERITY_FUZZ_TRACE").is_ok() {
					println!("block {number}: {name} by {who:?}: {call:?}");
				}
				let uxt = signed(call, who);
				let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
					Executive::apply_extrinsic(uxt)
				}))
				.map_err(|_| format!("seed {seed} block {number}: {name} panicked"))?;
				if std::env::var("VERITY_FUZZ_TRACE").is_ok() {
					println!(
						"  -> {result:?}, block weight {:?}",
						frame_system::Pallet::<Runtime>::block_weight().total()
					);
				}
				let entry = tally.calls.entry(name).or_default();
				match result {
					Ok(Ok(())) => {
						tally.applied += 1;
						tally.succeeded += 1;
						entry.0 += 1;
						entry.1 += 1;
					}
					Ok(Err(_)) => {
						tally.applied += 1;
						entry.0 += 1;
					}
					Err(_) => tally.invalid += 1,
				}
			}
			check_invariants(rotated).map_err(|e| format!("seed {seed} block {number}: {e}"))?;
			pools.learn();
			let header = Executive::finalize_block();
			parent = header.hash();
			tally.blocks += 1;
		}
		Ok(())
	})
}

/// `pallet.call` of a call, for the summary.
fn call_name(call: &RuntimeCall) -> String {
	use polkadot_sdk::frame_support::traits::GetCallMetadata;
	let m = call.get_call_metadata();
	format!("{}.{}", m.pallet_name, m.function_name)
}

fn env_u64(name: &str) -> Option<u64> {
	std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn random_calls_keep_every_invariant() {
	let mut types = scale_info::Registry::new();
	let call_ty = types.register_type(&scale_info::meta_type::<RuntimeCall>()).id;
	let registry: PortableRegistry = types.into();
	let first = env_u64("VERITY_FUZZ_SEED").unwrap_or(0);
	let budget = env_u64("VERITY_FUZZ_SECONDS").map(Duration::from_secs);
	let runs = env_u64("VERITY_FUZZ_RUNS").unwrap_or(if budget.is_some() {
		u64::MAX
	} else {
		DEFAULT_RUNS
	});
	let start = Instant::now();
	let mut tally = Tally::default();
	let mut seed = first;
	while seed - first < runs && budget.is_none_or(|b| start.elapsed() < b) {
		if let Err(e) = run(seed, &registry, call_ty, &mut tally) {
			panic!("{e}\nreplay: VERITY_FUZZ_SEED={seed} VERITY_FUZZ_RUNS=1 cargo test -p verity-runtime --test fuzz");
		}
		seed += 1;
		if budget.is_some() && (seed - first).is_multiple_of(25) {
			eprintln!(
				"fuzz: seeds {first}..{seed}, {} blocks, {} applied, {:.0} s, no invariant broken",
				tally.blocks,
				tally.applied,
				start.elapsed().as_secs_f64()
			);
		}
	}
	let kinds = tally.calls.len();
	let succeeded_kinds = tally.calls.values().filter(|(_, ok)| *ok > 0).count();
	println!(
		"fuzz: seeds {first}..{seed}, {} blocks, {} extrinsics applied ({} succeeded, {} invalid) over {kinds} calls ({succeeded_kinds} succeeded at least once), {:.0} s, no invariant broken",
		tally.blocks, tally.applied, tally.succeeded, tally.invalid, start.elapsed().as_secs_f64()
	);
	for (name, (applied, ok)) in &tally.calls {
		println!("  {name}: {applied} applied, {ok} succeeded");
	}
	assert!(tally.blocks > 0);
}
