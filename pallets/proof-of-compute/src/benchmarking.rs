//! Benchmarks of every call and of the hook's two jobs at their worst cases: full verifier
//! lists, full committees, the deepest proofs, the most audits.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::arithmetic_side_effects)]

use crate::{committee, pallet::*, types::*, Pallet as Poc};
use alloc::vec::Vec;
use polkadot_sdk::{
	frame_benchmarking::v2::*,
	frame_support::{
		traits::{EnsureOrigin, Get, Hooks},
		BoundedVec,
	},
	frame_system::{self, pallet_prelude::BlockNumberFor, RawOrigin},
	sp_core::H256,
	sp_runtime::Perbill,
};
use verity_primitives::{
	cid::Cid,
	market::{TaskOutcome, TaskVerifier},
	merkle::node_hash,
};

fn params<T: Config>() -> ParamsOf<T> {
	let max = T::MaxCommittee::get();
	PocParams {
		commit_window: 5u32.into(),
		reveal_window: 5u32.into(),
		training_committee: max - 1,
		max_committee: max,
		dissent_slash: Perbill::from_percent(10),
		no_reveal_slash: Perbill::from_percent(5),
		// As many re-runs as the exclusion list has room for (3 in the runtime).
		max_reruns: T::MaxExcluded::get().saturating_sub(T::MaxGroup::get()) / max,
		audits_per_epoch: T::MaxAuditsPerEpoch::get(),
		audit_committee: max,
		epoch_window: 5u32.into(),
	}
}

/// `n` registered verifiers with stake (and no others).
fn verifiers<T: Config>(n: u32) -> Vec<T::AccountId> {
	Params::<T>::put(params::<T>());
	Verifiers::<T>::kill();
	(0..n)
		.map(|i| {
			let who: T::AccountId = account("verifier", i, 0);
			T::BenchmarkHelper::make_provider(&who);
			Poc::<T>::register_verifier(RawOrigin::Signed(who.clone()).into()).unwrap();
			who
		})
		.collect()
}

fn nonce() -> H256 {
	H256::repeat_byte(7)
}

/// Runs the hook at the block of the first due committee draw (after a submission).
fn draw<T: Config>() {
	let at = Schedule::<T>::iter()
		.filter(|(_, due)| due.iter().any(|d| matches!(d, Due::Draw(..))))
		.map(|(b, _)| b)
		.min()
		.unwrap();
	frame_system::Pallet::<T>::set_block_number(at);
	Poc::<T>::on_initialize(at);
}

/// A task handed to verification with the largest committee, drawn; returns the task and round.
fn open_task<T: Config>() -> (u64, RoundId) {
	verifiers::<T>(T::MaxCommittee::get() * 2);
	let (task, provider) = T::BenchmarkHelper::make_task(T::MaxCommittee::get());
	T::BenchmarkHelper::submit(task, &provider);
	draw::<T>();
	(task, TaskRounds::<T>::get(task).unwrap())
}

fn commit_all<T: Config>(round: RoundId, digest: H256) {
	for m in Rounds::<T>::get(round).unwrap().members {
		let c = committee::commitment(round, &digest, &nonce(), &m);
		Poc::<T>::do_commit(m, round, c).unwrap();
	}
}

fn reveal_all<T: Config>(round: RoundId, digest: H256) {
	let r = Rounds::<T>::get(round).unwrap();
	frame_system::Pallet::<T>::set_block_number(r.commit_end + 1u32.into());
	for m in r.members {
		let reveal =
			Reveal { digest, result: Cid::of_raw_bytes(b"result"), summary: BoundedVec::new() };
		Poc::<T>::do_reveal(m, round, reveal, nonce()).unwrap();
	}
}

/// Commits, then reveals, `digests[i]` for the round's `i`-th member (the provider first);
/// members past the end of `digests` stay silent.
fn play<T: Config>(round: RoundId, digests: &[H256]) {
	let r = Rounds::<T>::get(round).unwrap();
	for (m, d) in r.members.iter().zip(digests) {
		let c = committee::commitment(round, d, &nonce(), m);
		Poc::<T>::do_commit(m.clone(), round, c).unwrap();
	}
	frame_system::Pallet::<T>::set_block_number(r.commit_end + 1u32.into());
	for (m, d) in r.members.iter().zip(digests) {
		let reveal = Reveal {
			digest: *d,
			result: Cid::of_raw_bytes(d.as_bytes()),
			summary: BoundedVec::new(),
		};
		Poc::<T>::do_reveal(m.clone(), round, reveal, nonce()).unwrap();
	}
}

/// A task of committee `k` submitted with every verifier slot full, its committee drawn;
/// returns the round and the block its close is due.
fn drawn_round<T: Config>(k: u32) -> (RoundId, BlockNumberFor<T>) {
	verifiers::<T>(T::MaxVerifiers::get());
	let (task, provider) = T::BenchmarkHelper::make_task(k);
	T::BenchmarkHelper::submit(task, &provider);
	draw::<T>();
	let round = TaskRounds::<T>::get(task).unwrap();
	let close = Schedule::<T>::iter()
		.filter(|(_, due)| due.contains(&Due::Round(round)))
		.map(|(b, _)| b)
		.next()
		.unwrap();
	(round, close)
}

/// A training group of `MaxGroup` members that has committed epoch 0 (1,000 steps each); returns
/// the block its audits are drawn at.
fn full_group_commits<T: Config>() -> BlockNumberFor<T> {
	let group = T::BenchmarkHelper::make_group(T::MaxGroup::get(), 1_000);
	let cid: CidInput = Cid::of_raw_bytes(b"c").to_text().into_bytes().try_into().unwrap();
	for (task, who) in &group {
		Poc::<T>::commit_epoch(
			RawOrigin::Signed(who.clone()).into(),
			*task,
			0,
			cid.clone(),
			1_000,
			H256::zero(),
		)
		.unwrap();
	}
	Epochs::<T>::iter().next().unwrap().2.closes_at + T::DrawDelay::get()
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn register_verifier() {
		verifiers::<T>(T::MaxVerifiers::get() - 1);
		let who: T::AccountId = account("new", 0, 0);
		T::BenchmarkHelper::make_provider(&who);

		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()));

		assert!(Verifiers::<T>::get().contains(&who));
	}

	#[benchmark]
	fn unregister_verifier() {
		let all = verifiers::<T>(T::MaxVerifiers::get());
		let who = all[0].clone();

		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()));

		assert!(!Verifiers::<T>::get().contains(&who));
	}

	#[benchmark]
	fn commit() {
		let (_, round) = open_task::<T>();
		let who = Rounds::<T>::get(round).unwrap().members.last().cloned().unwrap();
		let c = committee::commitment(round, &H256::zero(), &nonce(), &who);

		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), round, c);

		assert!(Commits::<T>::contains_key(round, &who));
	}

	#[benchmark]
	fn reveal() {
		let (_, round) = open_task::<T>();
		commit_all::<T>(round, H256::zero());
		let r = Rounds::<T>::get(round).unwrap();
		frame_system::Pallet::<T>::set_block_number(r.commit_end + 1u32.into());
		let who = r.members.last().cloned().unwrap();
		let cid = Cid::of_raw_bytes(b"result").to_text().into_bytes().try_into().unwrap();

		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), round, H256::zero(), cid, nonce(), BoundedVec::new());

		assert!(Reveals::<T>::contains_key(round, &who));
	}

	#[benchmark]
	fn commit_epoch() {
		Params::<T>::put(params::<T>());
		let group = T::BenchmarkHelper::make_group(2, 1_000);
		let (task, who) = group[0].clone();
		let cid = Cid::of_raw_bytes(b"checkpoint").to_text().into_bytes().try_into().unwrap();

		#[extrinsic_call]
		_(RawOrigin::Signed(who), task, 0, cid, 1_000, H256::repeat_byte(1));

		assert!(EpochCommits::<T>::contains_key(task, 0));
	}

	/// A leaf proof of depth `p` (leaf 0 of a tree of 2^p steps).
	#[benchmark]
	fn reveal_leaf(p: Linear<1, { T::MaxProofDepth::get().min(12) }>) {
		verifiers::<T>(T::MaxCommittee::get() * 2);
		let group = T::BenchmarkHelper::make_group(1, 1 << p);
		let (task, who) = group[0].clone();
		let leaf = H256::repeat_byte(3);
		let proof: Vec<H256> = (0..p).map(|i| H256::repeat_byte(i as u8)).collect();
		let mut root = verity_primitives::merkle::leaf_hash(&leaf);
		for s in &proof {
			root = node_hash(&root, s);
		}
		let cid: CidInput = Cid::of_raw_bytes(b"c").to_text().into_bytes().try_into().unwrap();
		Poc::<T>::commit_epoch(RawOrigin::Signed(who.clone()).into(), task, 0, cid, 1 << p, root)
			.unwrap();
		let closes = Epochs::<T>::iter().next().unwrap().2.closes_at + T::DrawDelay::get();
		frame_system::Pallet::<T>::set_block_number(closes);
		Poc::<T>::on_initialize(closes);
		let (id, audit) = Audits::<T>::iter().next().unwrap();
		// Point the audit at leaf 0, whose proof uses every level.
		Audits::<T>::insert(id, Audit { step: 0, ..audit });

		#[extrinsic_call]
		_(RawOrigin::Signed(who), id, leaf, BoundedVec::try_from(proof).unwrap());

		assert_eq!(Audits::<T>::get(id).unwrap().leaf, Some(leaf));
	}

	#[benchmark]
	fn set_params() -> Result<(), BenchmarkError> {
		let origin =
			T::AdminOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, params::<T>());

		assert_eq!(Params::<T>::get(), Some(params::<T>()));
		Ok(())
	}

	/// Opening a round (what the marketplace's `submit_result` adds) and drawing its committee
	/// (the hook, `DrawDelay` blocks later) with `v` verifiers to draw from. Both read every
	/// verifier's stake; each is charged this weight (the sum of the two).
	#[benchmark]
	fn open_round(v: Linear<{ T::MaxCommittee::get() }, { T::MaxVerifiers::get() }>) {
		verifiers::<T>(v);
		let (task, _) = T::BenchmarkHelper::make_task(T::MaxCommittee::get());
		let info = T::Market::task(task).unwrap();

		#[block]
		{
			<Poc<T> as TaskVerifier<_>>::verify(task, &info, &Cid::of_raw_bytes(b"r")).unwrap();
			draw::<T>();
		}

		let round = TaskRounds::<T>::get(task).unwrap();
		assert_eq!(Rounds::<T>::get(round).unwrap().members.len() as u32, T::MaxCommittee::get());
	}

	/// Closing a round of `k` members that all agree: the verdict goes to the marketplace,
	/// which pays the job.
	#[benchmark]
	fn close_round(k: Linear<1, { T::MaxCommittee::get() }>) {
		verifiers::<T>(T::MaxCommittee::get() * 2);
		let (task, provider) = T::BenchmarkHelper::make_task(k);
		T::BenchmarkHelper::submit(task, &provider);
		draw::<T>();
		let round = TaskRounds::<T>::get(task).unwrap();
		commit_all::<T>(round, H256::repeat_byte(1));
		reveal_all::<T>(round, H256::repeat_byte(1));
		let end = Rounds::<T>::get(round).unwrap().reveal_end + 1u32.into();
		let at = Schedule::<T>::iter().next().map(|(b, _)| b).unwrap_or(end);
		frame_system::Pallet::<T>::set_block_number(at);

		#[block]
		{
			Poc::<T>::on_initialize(at);
		}

		assert!(!Rounds::<T>::contains_key(round));
	}

	/// The most expensive verdict (security review, finding 12): a committee of `k` whose
	/// provider is wrong and whose verifiers split into a bare majority and as many dissenters as
	/// possible, each with its own digest (the aggregation tries every dissenter as the lead
	/// first). Every dissenter and the provider are slashed, each paying the majority a bounty,
	/// and the task goes back to the market to be reassigned.
	#[benchmark]
	fn close_round_contested(k: Linear<1, { T::MaxCommittee::get() }>) {
		let (round, close) = drawn_round::<T>(k);
		let verifiers = Rounds::<T>::get(round).unwrap().members.len() as u32 - 1;
		let quorum = verifiers / 2 + 1;
		let agreed = H256::repeat_byte(0xAA);
		let digests: Vec<H256> = core::iter::once(H256::repeat_byte(0xBB))
			.chain((0..verifiers - quorum).map(|i| H256::repeat_byte(i as u8 + 1)))
			.chain((0..quorum).map(|_| agreed))
			.collect();
		play::<T>(round, &digests);
		frame_system::Pallet::<T>::set_block_number(close);

		#[block]
		{
			Poc::<T>::on_initialize(close);
		}

		assert!(!Rounds::<T>::contains_key(round));
		assert!(TaskRounds::<T>::iter().next().is_none(), "the task went back to the market");
	}

	/// A round of `k` where only the provider reveals: every verifier is slashed for not
	/// showing, and the task is re-run with a fresh committee, everyone drawn so far excluded
	/// (the eligibility scan reads every registered verifier).
	#[benchmark]
	fn close_round_no_show(k: Linear<1, { T::MaxCommittee::get() }>) {
		let (round, close) = drawn_round::<T>(k);
		play::<T>(round, &[H256::repeat_byte(0xAA)]);
		frame_system::Pallet::<T>::set_block_number(close);

		#[block]
		{
			Poc::<T>::on_initialize(close);
		}

		assert!(!Rounds::<T>::contains_key(round));
		assert_eq!(NextRound::<T>::get(), round + 2, "the re-run opened");
	}

	/// Closing an epoch of a full group and drawing `s` audits, each with a full committee from
	/// a full verifier list.
	#[benchmark]
	fn close_epoch(s: Linear<1, { T::MaxAuditsPerEpoch::get() }>) {
		verifiers::<T>(T::MaxVerifiers::get());
		Params::<T>::put(PocParams { audits_per_epoch: s, ..params::<T>() });
		let at = full_group_commits::<T>();
		frame_system::Pallet::<T>::set_block_number(at);

		#[block]
		{
			Poc::<T>::on_initialize(at);
		}

		assert_eq!(Audits::<T>::iter().count() as u32, s);
	}

	/// The worst close of an audit round: the last audit of a full group's epoch, a full
	/// committee agreeing on a digest the member's leaf differs from. The verifiers are credited
	/// on the member's task, the member is slashed (a bounty to each verifier) and its deposit
	/// burnt, and the epoch ends invalid: every other member's deposit is released.
	#[benchmark]
	fn close_audit() {
		verifiers::<T>(T::MaxVerifiers::get());
		Params::<T>::put(PocParams { audits_per_epoch: 1, ..params::<T>() });
		let at = full_group_commits::<T>();
		let job = Epochs::<T>::iter_keys().next().unwrap().0;
		frame_system::Pallet::<T>::set_block_number(at);
		Poc::<T>::on_initialize(at);
		let (id, audit) = Audits::<T>::iter().next().unwrap();
		let digest = H256::repeat_byte(0xAA);
		// The member's leaf, as `reveal_leaf` records it after checking its proof: not the
		// verifiers' digest.
		Audits::<T>::insert(id, Audit { leaf: Some(H256::repeat_byte(0xBB)), ..audit.clone() });
		commit_all::<T>(audit.round, digest);
		reveal_all::<T>(audit.round, digest);
		let close = Schedule::<T>::iter()
			.filter(|(_, due)| due.contains(&Due::Round(audit.round)))
			.map(|(b, _)| b)
			.next()
			.unwrap();
		frame_system::Pallet::<T>::set_block_number(close);

		#[block]
		{
			Poc::<T>::on_initialize(close);
		}

		assert!(!Epochs::<T>::contains_key(job, 0), "the epoch ended");
		assert!(!EpochHistory::<T>::contains_key(job, 0), "invalid: not in the history");
		assert_eq!(EpochDeposits::<T>::iter().count(), 0, "every deposit released or burnt");
	}

	impl_benchmark_test_suite!(Poc, crate::mock::new_test_ext(), crate::mock::Test);
}
