use crate::{committee, mock::*, pallet::*, types::*, Error, Event};
use codec::{Decode, Encode};
use polkadot_sdk::{
	frame_support::{
		assert_noop, assert_ok,
		traits::{
			fungible::{Inspect, InspectHold, Mutate},
			Randomness,
		},
		BoundedVec,
	},
	sp_core::H256,
	sp_runtime::DispatchError,
};
use verity_primitives::{
	cid::Cid,
	market::{TaskInfo, TaskVerifier},
	merkle::{merkle_proof, merkle_root},
	staking::SlashReason,
};

const TASK: u64 = 7;
/// Blocks from a submission to its committee draw (the mock's `DrawDelay`).
const DRAW: u64 = 2;
const GOOD: u8 = 0xaa;
const BAD: u8 = 0xbb;

fn signed(who: AccountId) -> RuntimeOrigin {
	RuntimeOrigin::signed(who)
}

fn digest(d: u8) -> H256 {
	H256::repeat_byte(d)
}

fn nonce(who: AccountId) -> H256 {
	H256::from_low_u64_be(1_000 + who)
}

fn cid_of(d: u8) -> Cid {
	Cid::of_raw_bytes(&[d])
}

fn cid_input(c: Cid) -> CidInput {
	c.to_text().into_bytes().try_into().unwrap()
}

fn inference_task(task: u64, provider: AccountId, committee: u32) {
	MockMarket::add(
		task,
		TaskInfo {
			job: 1,
			kernel: EXACT,
			provider,
			buyer: BUYER,
			work: 5,
			committee,
			training: false,
			epochs: 0,
			steps: 0,
			collateral: 0,
		},
	);
}

/// Hands `task` to verification (its provider's submission); returns the round, whose
/// committee is drawn `DRAW` blocks later.
fn submit(task: u64) -> RoundId {
	let info = MockMarket::task_of(task);
	assert_ok!(<Poc as TaskVerifier<_>>::verify(task, &info, &cid_of(GOOD)));
	TaskRounds::<Test>::get(task).unwrap()
}

/// Runs to the draw of the task's current round; returns the round and its members.
fn drawn(task: u64) -> (RoundId, Vec<AccountId>) {
	run_to_block(System::block_number() + DRAW);
	let round = TaskRounds::<Test>::get(task).unwrap();
	(round, Rounds::<Test>::get(round).unwrap().members.to_vec())
}

/// Hands `task` (an inference task of `P1` asking for `k` verifiers) to verification and runs
/// to its draw; returns the round and its members (the provider first).
fn open(task: u64, k: u32) -> (RoundId, Vec<AccountId>) {
	inference_task(task, P1, k);
	submit(task);
	drawn(task)
}

fn commit_as(round: RoundId, who: AccountId, d: u8) {
	let c = committee::commitment(round, &digest(d), &nonce(who), &who);
	assert_ok!(Poc::commit(signed(who), round, c));
}

fn reveal_call(round: RoundId, who: AccountId, d: u8) -> polkadot_sdk::sp_runtime::DispatchResult {
	Poc::reveal(signed(who), round, digest(d), cid_input(cid_of(d)), nonce(who), BoundedVec::new())
}

fn reveal_as(round: RoundId, who: AccountId, d: u8) {
	assert_ok!(reveal_call(round, who, d));
}

fn ends(round: RoundId) -> (u64, u64) {
	let r = Rounds::<Test>::get(round).unwrap();
	(r.commit_end, r.reveal_end)
}

/// Every member commits and reveals its digest; the round closes.
fn play(round: RoundId, members: &[AccountId], digests: &[Option<u8>]) {
	let (commit_end, reveal_end) = ends(round);
	for (m, d) in members.iter().zip(digests) {
		if let Some(d) = d {
			commit_as(round, *m, *d);
		}
	}
	run_to_block(commit_end + 1);
	for (m, d) in members.iter().zip(digests) {
		if let Some(d) = d {
			reveal_as(round, *m, *d);
		}
	}
	run_to_block(reveal_end + 1);
}

impl MockMarket {
	fn task_of(task: u64) -> TaskInfo<AccountId> {
		<MockMarket as verity_primitives::market::TaskOutcome<_>>::task(task).unwrap()
	}
}

// ---------------------------------------------------------------- verifiers and params

#[test]
fn register_and_unregister_verifier() {
	build_and_execute(|| {
		assert_noop!(
			Poc::register_verifier(signed(NOBODY)),
			DispatchError::Other("BelowProviderMinimum")
		);
		assert_noop!(Poc::register_verifier(signed(10)), Error::<Test>::AlreadyVerifier);
		assert_ok!(Poc::register_verifier(signed(P1)));
		System::assert_last_event(Event::VerifierRegistered { who: P1 }.into());
		for v in [20, 21, 22, 23] {
			MockStake::set(v, 1_000);
		}
		for v in [20, 21, 22] {
			assert_ok!(Poc::register_verifier(signed(v)));
		}
		assert_noop!(Poc::register_verifier(signed(23)), Error::<Test>::TooManyVerifiers);
		assert_ok!(Poc::unregister_verifier(signed(P1)));
		System::assert_last_event(Event::VerifierUnregistered { who: P1 }.into());
		assert_noop!(Poc::unregister_verifier(signed(P1)), Error::<Test>::NotVerifier);
	});
}

#[test]
fn set_params_needs_admin_and_valid_values() {
	build_and_execute(|| {
		let p = default_params();
		assert_noop!(Poc::set_params(signed(P1), p), DispatchError::BadOrigin);
		assert_ok!(Poc::set_params(RuntimeOrigin::root(), PocParams { max_reruns: 2, ..p }));
		for bad in [
			PocParams { commit_window: 0, ..p },
			PocParams { reveal_window: 0, ..p },
			PocParams { max_committee: 6, ..p },
			PocParams { training_committee: 0, ..p },
			PocParams { audit_committee: 6, ..p },
			PocParams { audits_per_epoch: 5, ..p },
		] {
			assert_noop!(Poc::set_params(RuntimeOrigin::root(), bad), Error::<Test>::InvalidParams);
		}
	});
}

/// Finding 21: each re-run excludes the committee it replaces, and an audit starts by
/// excluding its group; an exclusion list that overflowed dropped the rest silently, so
/// excluded verifiers could be drawn again. Parameters whose worst case does not fit
/// `MaxExcluded` (16 in the mock: a group of 4 plus 5 per re-run) are refused.
#[test]
fn finding_21_reruns_cannot_outgrow_the_exclusion_list() {
	build_and_execute(|| {
		let p = default_params();
		assert_ok!(Poc::set_params(RuntimeOrigin::root(), PocParams { max_reruns: 2, ..p }));
		assert_noop!(
			Poc::set_params(RuntimeOrigin::root(), PocParams { max_reruns: 3, ..p }),
			Error::<Test>::InvalidParams
		);
		assert_ok!(Poc::set_params(
			RuntimeOrigin::root(),
			PocParams { max_reruns: 3, max_committee: 4, training_committee: 3, ..p }
		));
	});
}

/// Finding 19 (verification's side): windows were unbounded, so no unbonding period could be
/// known to outlast them. The span verification may run after a job's deadline must fit
/// `MaxVerificationSpan` (250 blocks in the mock), which the runtime adds to its longest job
/// to get the staking pallet's shortest unbonding period.
#[test]
fn finding_19_verification_cannot_outlast_the_unbonding_floor() {
	build_and_execute(|| {
		let p = default_params();
		// 3 (epoch window) + 2 (draw delay) + 16 (slide) + 2 rounds × 2 runs × (3 + 3 + 16).
		assert_eq!(Poc::verification_span(&p), 109);
		// Before: any window was valid, however long.
		let long = PocParams { commit_window: 1_000, ..p };
		assert!(Poc::verification_span(&long) > MaxVerificationSpan::get());
		assert_noop!(Poc::set_params(RuntimeOrigin::root(), long), Error::<Test>::InvalidParams);
		assert_noop!(
			Poc::set_params(RuntimeOrigin::root(), PocParams { epoch_window: 200, ..p }),
			Error::<Test>::InvalidParams
		);
		// The largest span that fits is accepted: 250 − 109 = 141 more blocks of epoch window.
		assert_ok!(Poc::set_params(RuntimeOrigin::root(), PocParams { epoch_window: 144, ..p }));
		assert_eq!(Poc::verification_span(&PocParams { epoch_window: 144, ..p }), 250);
	});
}

// ---------------------------------------------------------------- committees

#[test]
fn verify_opens_a_round_whose_verifiers_are_drawn_later() {
	build_and_execute(|| {
		inference_task(TASK, P1, 3);
		let round = submit(TASK);
		// Until the draw the provider sits alone (and may commit already).
		System::assert_last_event(
			Event::CommitteePending { round, subject: Subject::Task(TASK), draw_at: 1 + DRAW }
				.into(),
		);
		assert_eq!(Rounds::<Test>::get(round).unwrap().members.to_vec(), vec![P1]);
		commit_as(round, P1, GOOD);
		let (_, members) = drawn(TASK);
		assert_eq!(members.len(), 4);
		assert_eq!(members[0], P1);
		assert!(members[1..].iter().all(|m| VERIFIERS.contains(m)));
		let mut distinct = members.clone();
		distinct.sort();
		distinct.dedup();
		assert_eq!(distinct.len(), 4);
		System::assert_last_event(
			Event::CommitteeSelected {
				round,
				subject: Subject::Task(TASK),
				members: members.clone(),
				commit_end: 3 + 3,
				reveal_end: 3 + 6,
				attempt: 0,
			}
			.into(),
		);
		let info = MockMarket::task_of(TASK);
		assert_noop!(
			<Poc as TaskVerifier<_>>::verify(TASK, &info, &cid_of(GOOD)),
			Error::<Test>::AlreadyVerifying
		);
	});
}

#[test]
fn verify_fails_cleanly_without_enough_verifiers_or_kernel() {
	build_and_execute(|| {
		// Committees are capped at max_committee (5): the provider and 4 drawn of 8.
		let (_, members) = open(1, 50);
		assert_eq!(members.len(), 5);
		for v in &VERIFIERS[..6] {
			MockStake::set(*v, 0); // below the minimum: not eligible
		}
		inference_task(2, P2, 4);
		assert_noop!(
			<Poc as TaskVerifier<_>>::verify(2, &MockMarket::task_of(2), &cid_of(GOOD)),
			Error::<Test>::NotEnoughVerifiers
		);
		let mut info = MockMarket::task_of(2);
		info.kernel = H256::repeat_byte(9);
		assert_noop!(
			<Poc as TaskVerifier<_>>::verify(2, &info, &cid_of(GOOD)),
			Error::<Test>::UnknownKernel
		);
	});
}

#[test]
fn committees_never_repeat_a_member_and_cover_every_verifier() {
	build_and_execute(|| {
		let mut seen = std::collections::BTreeMap::new();
		for task in 0..120u64 {
			MockRandomness::set_seed(task);
			let (_, members) = open(100 + task, 3);
			// The job ends: the round closes without slashing the silent members.
			MockMarket::remove(100 + task);
			let mut sorted = members.clone();
			sorted.sort();
			sorted.dedup();
			assert_eq!(sorted.len(), 4, "a member twice");
			assert_eq!(members[0], P1);
			for m in &members[1..] {
				*seen.entry(*m).or_insert(0u32) += 1;
			}
		}
		// 3 of 8 per committee: each verifier expected in 45 of 120 (sd ≈ 5.3); the precise
		// frequency test is `committee::tests` (20,000 draws).
		assert_eq!(seen.len(), 8);
		for (v, n) in seen {
			assert!((20..=70).contains(&n), "verifier {v}: {n}");
		}
	});
}

// ---------------------------------------------------------------- commit and reveal

#[test]
fn commit_checks_membership_window_and_uniqueness() {
	build_and_execute(|| {
		let (round, members) = open(TASK, 3);
		let outsider = *VERIFIERS.iter().find(|v| !members.contains(v)).unwrap();
		assert_noop!(Poc::commit(signed(outsider), round, H256::zero()), Error::<Test>::NotMember);
		assert_noop!(Poc::commit(signed(P1), 99, H256::zero()), Error::<Test>::UnknownRound);
		commit_as(round, P1, GOOD);
		System::assert_last_event(Event::Committed { round, member: P1 }.into());
		assert_noop!(Poc::commit(signed(P1), round, H256::zero()), Error::<Test>::AlreadyCommitted);
		let (commit_end, _) = ends(round);
		run_to_block(commit_end);
		commit_as(round, members[1], GOOD); // the last block of the window
		run_to_block(commit_end + 1);
		assert_noop!(
			Poc::commit(signed(members[2]), round, H256::zero()),
			Error::<Test>::CommitClosed
		);
	});
}

#[test]
fn reveal_respects_commit_and_windows() {
	build_and_execute(|| {
		let (round, members) = open(TASK, 3);
		let (commit_end, reveal_end) = ends(round);
		commit_as(round, P1, GOOD);
		commit_as(round, members[1], GOOD);
		// A copied commitment: members[2] submits P1's.
		let copied = Commits::<Test>::get(round, P1).unwrap();
		assert_ok!(Poc::commit(signed(members[2]), round, copied));
		run_to_block(commit_end);
		assert_noop!(reveal_call(round, P1, GOOD), Error::<Test>::RevealNotOpen);
		run_to_block(commit_end + 1);
		// A different digest than committed.
		assert_noop!(reveal_call(round, P1, BAD), Error::<Test>::CommitmentMismatch);
		// The copier cannot open P1's commitment: the member is in the hash.
		assert_noop!(reveal_call(round, members[2], GOOD), Error::<Test>::CommitmentMismatch);
		assert_noop!(
			Poc::reveal(
				signed(members[2]),
				round,
				digest(GOOD),
				cid_input(cid_of(GOOD)),
				nonce(P1),
				BoundedVec::new()
			),
			Error::<Test>::CommitmentMismatch
		);
		// A summary where the rule takes none; a malformed result CID.
		assert_noop!(
			Poc::reveal(
				signed(P1),
				round,
				digest(GOOD),
				cid_input(cid_of(GOOD)),
				nonce(P1),
				vec![1].try_into().unwrap()
			),
			Error::<Test>::WrongSummaryLength
		);
		assert_noop!(
			Poc::reveal(
				signed(P1),
				round,
				digest(GOOD),
				b"Qm".to_vec().try_into().unwrap(),
				nonce(P1),
				BoundedVec::new()
			),
			Error::<Test>::InvalidCid
		);
		reveal_as(round, P1, GOOD);
		System::assert_last_event(
			Event::Revealed { round, member: P1, digest: digest(GOOD) }.into(),
		);
		assert_noop!(reveal_call(round, P1, GOOD), Error::<Test>::AlreadyRevealed);
		run_to_block(reveal_end);
		reveal_as(round, members[1], GOOD); // the last block of the window
		let outsider = *VERIFIERS.iter().find(|v| !members.contains(v)).unwrap();
		assert_noop!(reveal_call(round, outsider, GOOD), Error::<Test>::NotMember);
		// Reveal window closed at the hook of reveal_end + 1: the round is gone.
		run_to_block(reveal_end + 1);
		assert_noop!(reveal_call(round, members[2], GOOD), Error::<Test>::UnknownRound);
	});
}

#[test]
fn reveal_without_commitment_is_rejected() {
	build_and_execute(|| {
		let (round, members) = open(TASK, 3);
		run_to_block(ends(round).0 + 1);
		assert_noop!(reveal_call(round, members[1], GOOD), Error::<Test>::NoCommitment);
	});
}

#[test]
fn a_late_reveal_is_rejected() {
	build_and_execute(|| {
		let (round, members) = open(TASK, 3);
		commit_as(round, members[1], GOOD);
		let (_, reveal_end) = ends(round);
		// Block reveal_end + 1 is past the window even before the hook closes the round.
		System::set_block_number(reveal_end + 1);
		assert_noop!(reveal_call(round, members[1], GOOD), Error::<Test>::RevealClosed);
	});
}

// ---------------------------------------------------------------- outcomes

#[test]
fn honest_majority_is_accepted_and_the_dissenter_slashed() {
	build_and_execute(|| {
		let (round, members) = open(TASK, 3);
		play(round, &members, &[Some(GOOD), Some(GOOD), Some(GOOD), Some(BAD)]);
		System::assert_has_event(
			Event::ResultAccepted {
				round,
				subject: Subject::Task(TASK),
				digest: digest(GOOD),
				result: cid_of(GOOD),
				agreeing: vec![P1, members[1], members[2]],
			}
			.into(),
		);
		assert_eq!(
			MockMarket::verified(),
			vec![(TASK, cid_of(GOOD), vec![members[1], members[2]])]
		);
		assert_eq!(MockStake::slashes(), vec![(members[3], 100, SlashReason::WrongResult)]);
		System::assert_has_event(
			Event::Penalised {
				round,
				member: members[3],
				reason: SlashReason::WrongResult,
				amount: 100,
			}
			.into(),
		);
		assert!(Rounds::<Test>::get(round).is_none() && TaskRounds::<Test>::get(TASK).is_none());
		assert_eq!(Commits::<Test>::iter().count() + Reveals::<Test>::iter().count(), 0);
	});
}

#[test]
fn a_provider_outvoted_is_rejected_and_non_revealers_are_slashed() {
	build_and_execute(|| {
		let (round, members) = open(TASK, 5);
		// Four verifiers (the largest committee): one says BAD with the provider, two GOOD, one
		// never reveals: no result has 3 of the 4 verifiers — no quorum. Then a re-run where the
		// verifiers agree against the provider.
		play(round, &members, &[Some(BAD), Some(GOOD), Some(GOOD), Some(BAD), None]);
		assert!(MockStake::slashes().contains(&(members[4], 50, SlashReason::NoShow)));
		let (rerun, again) = drawn(TASK);
		assert_eq!(Rounds::<Test>::get(rerun).unwrap().attempt, 1);
		play(rerun, &again, &[Some(BAD), Some(GOOD), Some(GOOD), Some(GOOD), Some(GOOD)]);
		assert_eq!(MockMarket::rejected(), vec![TASK]);
		assert!(MockMarket::verified().is_empty());
		assert!(MockStake::slashes().contains(&(P1, 100, SlashReason::WrongResult)));
	});
}

#[test]
fn no_quorum_reruns_with_a_fresh_committee_then_fails() {
	build_and_execute(|| {
		let (round, members) = open(TASK, 3);
		play(round, &members, &[Some(1), Some(2), Some(3), Some(4)]);
		System::assert_has_event(
			Event::NoQuorum { round, subject: Subject::Task(TASK), attempt: 0 }.into(),
		);
		let (rerun, _) = drawn(TASK);
		let again = Rounds::<Test>::get(rerun).unwrap();
		assert_eq!(again.members[0], P1, "the provider stays");
		for m in &members[1..] {
			assert!(!again.members.contains(m), "previous verifiers excluded");
			assert!(again.excluded.contains(m));
		}
		// max_reruns = 1: a second split fails the task.
		play(rerun, &again.members, &[Some(1), Some(2), Some(3), Some(4)]);
		System::assert_has_event(Event::VerificationFailed { subject: Subject::Task(TASK) }.into());
		assert_eq!(MockMarket::failed(), vec![TASK]);
		assert!(TaskRounds::<Test>::get(TASK).is_none());
	});
}

#[test]
fn numeric_tolerance_accepts_close_summaries() {
	build_and_execute(|| {
		MockMarket::add(
			TASK,
			TaskInfo {
				job: 1,
				kernel: TOLERANT,
				provider: P1,
				buyer: BUYER,
				work: 1,
				committee: 3,
				training: false,
				epochs: 0,
				steps: 0,
				collateral: 0,
			},
		);
		submit(TASK);
		let (round, members) = drawn(TASK);
		// The provider and two verifiers within tolerance of each other; one far off.
		let summaries: [Vec<i64>; 4] =
			[vec![1_000, -5], vec![1_008, 0], vec![1_002, -3], vec![2_000, 0]];
		let (commit_end, reveal_end) = ends(round);
		for (m, s) in members.iter().zip(&summaries) {
			let d = committee::summary_digest(s);
			assert_ok!(Poc::commit(
				signed(*m),
				round,
				committee::commitment(round, &d, &nonce(*m), m)
			));
		}
		run_to_block(commit_end + 1);
		let m0 = members[0];
		let d0 = committee::summary_digest(&summaries[0]);
		assert_noop!(
			Poc::reveal(
				signed(m0),
				round,
				d0,
				cid_input(cid_of(1)),
				nonce(m0),
				vec![1_000].try_into().unwrap()
			),
			Error::<Test>::WrongSummaryLength
		);
		assert_noop!(
			Poc::reveal(
				signed(m0),
				round,
				d0,
				cid_input(cid_of(1)),
				nonce(m0),
				vec![1_000, -6].try_into().unwrap()
			),
			Error::<Test>::SummaryMismatch
		);
		for (m, s) in members.iter().zip(&summaries) {
			let d = committee::summary_digest(s);
			assert_ok!(Poc::reveal(
				signed(*m),
				round,
				d,
				cid_input(cid_of(1)),
				nonce(*m),
				s.clone().try_into().unwrap()
			));
		}
		run_to_block(reveal_end + 1);
		assert_eq!(MockMarket::verified(), vec![(TASK, cid_of(1), vec![members[1], members[2]])]);
		assert_eq!(MockStake::slashes(), vec![(members[3], 100, SlashReason::WrongResult)]);
	});
}

// ---------------------------------------------------------------- training audits

/// The honest gradient digest of `step`.
fn grad(step: u32) -> H256 {
	H256::from_low_u64_be(0x6000 + u64::from(step))
}

/// A one-epoch training task of job 5.
fn training_task(task: u64, provider: AccountId) {
	training_task_of(5, task, provider)
}

/// A one-epoch training task of `job`.
fn training_task_of(job: u64, task: u64, provider: AccountId) {
	MockMarket::add(
		task,
		TaskInfo {
			job,
			kernel: EXACT,
			provider,
			buyer: BUYER,
			work: 1,
			committee: 0,
			training: true,
			epochs: 1,
			steps: 8,
			collateral: 0,
		},
	);
}

/// A member's leaves for 8 steps; `faked` steps replaced.
fn leaves(faked: &[u32]) -> Vec<H256> {
	(0..8).map(|s| if faked.contains(&s) { H256::repeat_byte(0xfa) } else { grad(s) }).collect()
}

fn commit_epoch(task: u64, who: AccountId, tree: &[H256]) {
	assert_ok!(Poc::commit_epoch(
		signed(who),
		task,
		0,
		cid_input(Cid::of_raw_bytes(b"checkpoint-0")),
		tree.len() as u32,
		merkle_root(tree)
	));
}

/// Runs every open audit: verifiers agree on the honest digest; the audited member reveals
/// its own leaf and proof.
fn run_audits(trees: &[(AccountId, Vec<H256>)]) -> Vec<AuditId> {
	let audits: Vec<(AuditId, Audit<Test>)> = Audits::<Test>::iter().collect();
	let mut ids = vec![];
	for (id, audit) in &audits {
		let round = Rounds::<Test>::get(audit.round).unwrap();
		for m in &round.members {
			assert!(![P1, P2].contains(m), "a group member verifies its own group");
			let c = committee::commitment(audit.round, &grad(audit.step), &nonce(*m), m);
			assert_ok!(Poc::commit(signed(*m), audit.round, c));
		}
		let tree = &trees.iter().find(|(w, _)| *w == audit.member).unwrap().1;
		let proof = merkle_proof(tree, audit.step as usize).unwrap();
		assert_ok!(Poc::reveal_leaf(
			signed(audit.member),
			*id,
			tree[audit.step as usize],
			proof.try_into().unwrap()
		));
		ids.push(*id);
	}
	let (commit_end, reveal_end) = audits.first().map(|(_, a)| ends(a.round)).unwrap();
	run_to_block(commit_end + 1);
	for (_, audit) in &audits {
		for m in Rounds::<Test>::get(audit.round).unwrap().members {
			assert_ok!(Poc::reveal(
				signed(m),
				audit.round,
				grad(audit.step),
				cid_input(Cid::of_raw_bytes(b"g")),
				nonce(m),
				BoundedVec::new()
			));
		}
	}
	run_to_block(reveal_end + 1);
	ids
}

/// Tasks 1 and 2 (P1, P2) commit epoch 0 of job 5 honestly; the blocks run to its audits' draw.
fn honest_epoch_drawn() {
	training_task(1, P1);
	training_task(2, P2);
	commit_epoch(1, P1, &leaves(&[]));
	commit_epoch(2, P2, &leaves(&[]));
	let epoch = Epochs::<Test>::get(5, 0).unwrap();
	run_to_block(epoch.closes_at + DRAW);
}

#[test]
fn an_honest_group_passes_its_audits() {
	build_and_execute(|| {
		honest_epoch_drawn();
		assert_eq!(Audits::<Test>::iter().count(), 2);
		let ids = run_audits(&[(P1, leaves(&[])), (P2, leaves(&[]))]);
		for id in ids {
			System::assert_has_event(Event::AuditPassed { audit: id }.into());
		}
		assert!(MockStake::slashes().is_empty());
		assert!(Invalidated::<Test>::iter().next().is_none());
		// Everything about the epoch is cleaned up; the next one starts from its checkpoint.
		assert!(Epochs::<Test>::get(5, 0).is_none());
		assert_eq!(EpochCommits::<Test>::iter().count(), 0);
		assert_eq!(LastCheckpoint::<Test>::get(5), Some(Cid::of_raw_bytes(b"checkpoint-0")));
		assert_ok!(<Poc as TaskVerifier<_>>::verify(1, &MockMarket::task_of(1), &cid_of(1)));
		// The epoch's commitments are kept for good, with its audits' outcome.
		let record = EpochHistory::<Test>::get(5, 0).unwrap();
		let commit = |tree: &[H256]| EpochCommit {
			checkpoint: Cid::of_raw_bytes(b"checkpoint-0"),
			steps: 8,
			root: merkle_root(tree),
		};
		assert_eq!(record.start, None);
		assert_eq!(
			record.commits.to_vec(),
			vec![(1, commit(&leaves(&[]))), (2, commit(&leaves(&[])))]
		);
		assert_eq!((record.audits, record.passed), (2, 2));
	});
}

/// Finding 15 (audits): an audit's verifiers were paid only when they caught a fake. Every
/// audit that reaches a verdict now credits the verifiers that agreed on the audited member's
/// task, which pays them a share of its verification margin.
#[test]
fn finding_15_an_audits_agreeing_verifiers_are_credited_on_the_task() {
	build_and_execute(|| {
		honest_epoch_drawn();
		let mut expected: Vec<(u64, Vec<AccountId>)> = Audits::<Test>::iter()
			.map(|(_, a)| (a.task, Rounds::<Test>::get(a.round).unwrap().members.to_vec()))
			.collect();
		assert_eq!(expected.len(), 2);
		run_audits(&[(P1, leaves(&[])), (P2, leaves(&[]))]);
		let mut got = MockMarket::audited();
		for (_, v) in got.iter_mut().chain(expected.iter_mut()) {
			v.sort();
		}
		got.sort();
		expected.sort();
		assert_eq!(got, expected);
	});
}

#[test]
fn an_audit_catches_a_faked_step() {
	build_and_execute(|| {
		// P2 alone, faking every step: any audited step is faked.
		training_task(2, P2);
		let faked = leaves(&[0, 1, 2, 3, 4, 5, 6, 7]);
		commit_epoch(2, P2, &faked);
		run_to_block(Epochs::<Test>::get(5, 0).unwrap().closes_at + DRAW);
		let drawn = Audits::<Test>::iter().count();
		assert_eq!(drawn, 2);
		run_audits(&[(P2, faked)]);
		System::assert_has_event(
			Event::EpochInvalidated { job: 5, epoch: 0, task: 2, member: P2 }.into(),
		);
		assert!(MockStake::slashes().iter().all(|s| s.0 == P2 && s.2 == SlashReason::WrongResult));
		assert_eq!(Invalidated::<Test>::get(2), Some(0));
		assert_noop!(
			<Poc as TaskVerifier<_>>::verify(2, &MockMarket::task_of(2), &cid_of(1)),
			Error::<Test>::EpochInvalid
		);
		// An invalid epoch is no part of the job's history.
		assert!(Epochs::<Test>::get(5, 0).is_none());
		assert!(EpochHistory::<Test>::get(5, 0).is_none());
		assert_eq!(EpochCommits::<Test>::iter().count(), 0);
	});
}

#[test]
fn an_unrevealed_leaf_counts_as_faked() {
	build_and_execute(|| {
		training_task(1, P1);
		commit_epoch(1, P1, &leaves(&[]));
		run_to_block(Epochs::<Test>::get(5, 0).unwrap().closes_at + DRAW);
		let (id, audit) = Audits::<Test>::iter().next().unwrap();
		let round = Rounds::<Test>::get(audit.round).unwrap();
		play(audit.round, &round.members, &[Some(1), Some(1), Some(1)]);
		assert!(MockStake::slashes().contains(&(P1, 100, SlashReason::NoShow)));
		assert!(Audits::<Test>::get(id).is_none());
		assert_eq!(Invalidated::<Test>::get(1), Some(0));
	});
}

/// A training task reassigned while its job still trains (its provider crashed): the new
/// provider cannot commit the epochs that opened before it came, so it starts at the job's next
/// epoch to open, and its predecessor's invalid epoch no longer stops the task. Once every epoch
/// has opened, a reassignment changes nothing (no pay for a group's finished work).
#[test]
fn a_reassigned_training_task_starts_at_the_jobs_next_epoch() {
	build_and_execute(|| {
		const P3: AccountId = 3;
		let of = |task: u64, provider: AccountId| {
			training_task(task, provider);
			let info = TaskInfo { epochs: 3, ..MockMarket::task_of(task) };
			MockMarket::add(task, info.clone());
			info
		};
		let commit = |task: u64, who: AccountId, epoch: u32| {
			let cid = cid_input(Cid::of_raw_bytes(&[epoch as u8]));
			Poc::commit_epoch(signed(who), task, epoch, cid, 8, merkle_root(&leaves(&[])))
		};
		of(1, P1);
		of(2, P2);
		for epoch in 0..2 {
			assert_ok!(commit(1, P1, epoch));
		}
		assert_ok!(commit(2, P2, 0));
		// P2 is gone; its epoch 0 was found invalid; the chain gives the task to P3.
		Invalidated::<Test>::insert(2, 0);
		let info = of(2, P3);
		<Poc as TaskVerifier<_>>::task_reassigned(2, &info, &[1, 2]);
		assert_eq!(NextEpoch::<Test>::get(2), 2, "epochs 0 and 1 opened before P3 came");
		assert_eq!(Invalidated::<Test>::get(2), None);
		assert_noop!(commit(2, P3, 1), Error::<Test>::EpochOutOfRange);
		assert_noop!(commit(2, P2, 2), Error::<Test>::NotTaskProvider);
		assert_ok!(commit(2, P3, 2));
		// Every epoch has opened: a later reassignment keeps the task where it was.
		Invalidated::<Test>::insert(2, 2);
		let info = of(2, P1);
		<Poc as TaskVerifier<_>>::task_reassigned(2, &info, &[1, 2]);
		assert_eq!(NextEpoch::<Test>::get(2), 3);
		assert_eq!(Invalidated::<Test>::get(2), Some(2), "its last epoch's audit still stops it");
	});
}

/// An audit that convicts a member whose task has since moved to another provider slashes the
/// member, and leaves the task (now someone else's) verifiable.
#[test]
fn an_audit_of_a_member_whose_task_moved_on_slashes_the_member_only() {
	build_and_execute(|| {
		training_task(2, P2);
		let faked = leaves(&[0, 1, 2, 3, 4, 5, 6, 7]);
		commit_epoch(2, P2, &faked);
		run_to_block(Epochs::<Test>::get(5, 0).unwrap().closes_at + DRAW);
		training_task(2, 3);
		run_audits(&[(P2, faked)]);
		System::assert_has_event(
			Event::EpochInvalidated { job: 5, epoch: 0, task: 2, member: P2 }.into(),
		);
		assert!(MockStake::slashes().iter().any(|s| s.0 == P2 && s.2 == SlashReason::WrongResult));
		assert_eq!(Invalidated::<Test>::get(2), None, "the task is no longer P2's");
	});
}

#[test]
fn leaf_proofs_are_checked_against_index_and_root() {
	build_and_execute(|| {
		training_task(1, P1);
		let tree = leaves(&[]);
		commit_epoch(1, P1, &tree);
		run_to_block(Epochs::<Test>::get(5, 0).unwrap().closes_at + DRAW);
		let (id, audit) = Audits::<Test>::iter().next().unwrap();
		let step = audit.step as usize;
		let other = (step + 1) % 8;
		let proof = |i: usize| -> BoundedVec<H256, _> {
			merkle_proof(&tree, i).unwrap().try_into().unwrap()
		};
		// Wrong proof (another leaf's), wrong index (another leaf with its own proof), wrong
		// root (a proof from a different tree), a truncated and an extended proof.
		assert_noop!(
			Poc::reveal_leaf(signed(P1), id, tree[step], proof(other)),
			Error::<Test>::InvalidProof
		);
		assert_noop!(
			Poc::reveal_leaf(signed(P1), id, tree[other], proof(other)),
			Error::<Test>::InvalidProof
		);
		let foreign = leaves(&[step as u32]);
		assert_noop!(
			Poc::reveal_leaf(
				signed(P1),
				id,
				foreign[step],
				merkle_proof(&foreign, step).unwrap().try_into().unwrap()
			),
			Error::<Test>::InvalidProof
		);
		let mut short = proof(step);
		short.pop();
		assert_noop!(
			Poc::reveal_leaf(signed(P1), id, tree[step], short),
			Error::<Test>::InvalidProof
		);
		let mut long = proof(step);
		long.try_push(H256::zero()).unwrap();
		assert_noop!(
			Poc::reveal_leaf(signed(P1), id, tree[step], long),
			Error::<Test>::InvalidProof
		);
		assert_noop!(
			Poc::reveal_leaf(signed(P2), id, tree[step], proof(step)),
			Error::<Test>::NotAudited
		);
		assert_noop!(
			Poc::reveal_leaf(signed(P1), 99, tree[step], proof(step)),
			Error::<Test>::UnknownAudit
		);
		assert_ok!(Poc::reveal_leaf(signed(P1), id, tree[step], proof(step)));
		System::assert_last_event(Event::LeafRevealed { audit: id, leaf: tree[step] }.into());
		assert_noop!(
			Poc::reveal_leaf(signed(P1), id, tree[step], proof(step)),
			Error::<Test>::LeafAlreadyRevealed
		);
	});
}

#[test]
fn commit_epoch_rejects_bad_input() {
	build_and_execute(|| {
		training_task(1, P1);
		inference_task(3, P1, 3);
		let ckpt = || cid_input(Cid::of_raw_bytes(b"c"));
		assert_noop!(
			Poc::commit_epoch(signed(P1), 99, 0, ckpt(), 8, H256::zero()),
			Error::<Test>::UnknownTask
		);
		assert_noop!(
			Poc::commit_epoch(signed(P1), 3, 0, ckpt(), 8, H256::zero()),
			Error::<Test>::NotTraining
		);
		assert_noop!(
			Poc::commit_epoch(signed(P2), 1, 0, ckpt(), 8, H256::zero()),
			Error::<Test>::NotTaskProvider
		);
		for wrong in [0, 1, 7, 9] {
			assert_noop!(
				Poc::commit_epoch(signed(P1), 1, 0, ckpt(), wrong, H256::zero()),
				Error::<Test>::WrongSteps
			);
		}
		assert_noop!(
			Poc::commit_epoch(
				signed(P1),
				1,
				0,
				b"bafy!".to_vec().try_into().unwrap(),
				8,
				H256::zero()
			),
			Error::<Test>::InvalidCid
		);
		assert_ok!(Poc::commit_epoch(signed(P1), 1, 0, ckpt(), 8, H256::zero()));
		assert_noop!(
			Poc::commit_epoch(signed(P1), 1, 0, ckpt(), 8, H256::zero()),
			Error::<Test>::EpochAlreadyCommitted
		);
		training_task(2, P2);
		run_to_block(Epochs::<Test>::get(5, 0).unwrap().closes_at + DRAW);
		assert_noop!(
			Poc::commit_epoch(signed(P2), 2, 0, ckpt(), 8, H256::zero()),
			Error::<Test>::EpochClosed
		);
	});
}

#[test]
fn oversize_inputs_do_not_decode() {
	// A proof deeper than MaxProofDepth (8) and a summary longer than 64 values are refused
	// before dispatch.
	let proof: Vec<H256> = vec![H256::zero(); 9];
	let call = (5u8, 1u64, H256::zero(), proof).encode();
	assert!(crate::Call::<Test>::decode(&mut &call[..]).is_err());
	let summary: Vec<i64> = vec![0; 65];
	let cid = cid_input(cid_of(1)).into_inner();
	let call = (3u8, 1u64, H256::zero(), cid, H256::zero(), summary).encode();
	assert!(crate::Call::<Test>::decode(&mut &call[..]).is_err());
}

#[test]
fn a_round_for_a_task_that_ended_closes_without_verdict_or_slash() {
	build_and_execute(|| {
		let (round, members) = open(TASK, 3);
		commit_as(round, members[1], GOOD);
		// The job ended in the marketplace meanwhile (e.g. its deadline passed).
		MockMarket::remove(TASK);
		run_to_block(ends(round).1 + 1);
		System::assert_has_event(Event::VerificationFailed { subject: Subject::Task(TASK) }.into());
		assert!(MockStake::slashes().is_empty());
		assert!(MockMarket::verified().is_empty() && MockMarket::failed().is_empty());
		assert!(TaskRounds::<Test>::get(TASK).is_none());
		assert_eq!(Commits::<Test>::iter().count(), 0);
	});
}

#[test]
fn closings_spread_over_blocks_within_the_budget() {
	build_and_execute(|| {
		inference_task(1, P1, 3);
		inference_task(2, P1, 3);
		let (r1, r2) = (submit(1), submit(2));
		run_to_block(System::block_number() + DRAW);
		let members = |r| Rounds::<Test>::get(r).unwrap().members.to_vec();
		let (m1, m2) = (members(r1), members(r2));
		let (_, reveal_end) = ends(r1);
		assert_eq!(ends(r2).1, reveal_end);
		for (round, members) in [(r1, &m1), (r2, &m2)] {
			for m in members.iter() {
				commit_as(round, *m, GOOD);
			}
		}
		run_to_block(reveal_end);
		for (round, members) in [(r1, &m1), (r2, &m2)] {
			for m in members.iter() {
				reveal_as(round, *m, GOOD);
			}
		}
		// A budget below one closing: one round per block.
		DueBudget::set(polkadot_sdk::frame_support::weights::Weight::from_parts(1, 1));
		run_to_block(reveal_end + 1);
		assert_eq!(MockMarket::verified().len(), 1);
		assert!(Rounds::<Test>::get(r2).is_some());
		run_to_block(reveal_end + 2);
		assert_eq!(MockMarket::verified().len(), 2);
	});
}

// ---------------------------------------------------------------- security review findings

/// Finding 8: a verifier slot taken with stake that was then unbonded stayed taken for good (no
/// call, signed or Root, removed it), so recycled stake could fill `MaxVerifiers`. Anyone can
/// now prune a verifier whose provider stake is gone.
#[test]
fn finding_8_verifier_slots_of_gone_stake_can_be_pruned_by_anyone() {
	build_and_execute(|| {
		// 8 registered of 12: four squatters register, then unbond.
		for s in 20..24 {
			MockStake::set(s, 1_000);
			assert_ok!(Poc::register_verifier(signed(s)));
			MockStake::set(s, 0);
		}
		MockStake::set(30, 1_000);
		assert_noop!(Poc::register_verifier(signed(30)), Error::<Test>::TooManyVerifiers);
		// A staked verifier cannot be pruned by others; nor can a non-verifier.
		assert_noop!(Poc::prune_verifier(signed(NOBODY), 10), Error::<Test>::StillStaked);
		assert_noop!(Poc::prune_verifier(signed(NOBODY), 31), Error::<Test>::NotVerifier);
		// Before the fix there was no such call.
		assert_ok!(Poc::prune_verifier(signed(NOBODY), 20));
		System::assert_last_event(Event::VerifierUnregistered { who: 20 }.into());
		assert_ok!(Poc::register_verifier(signed(30)));
	});
}

/// Finding 4: the committee used to be drawn in the submission's own block, from randomness
/// fixed for a whole BABE epoch and the next (sequential) round id, so a provider could compute
/// its committee before submitting and submit when its colluder sat on it. The committee is now
/// drawn `DrawDelay` blocks later from that block's randomness. A provider that waits for a
/// block where everything it can know (this block's randomness, the next round id) predicts its
/// colluder, then submits, gets the colluder no more often than chance (3 of 8: 37.5 %).
#[test]
fn finding_4_a_provider_cannot_time_its_submission_to_draw_its_colluder() {
	build_and_execute(|| {
		const COLLUDER: AccountId = 10;
		const TRIALS: u64 = 60;
		let committee_at = |round: RoundId, task: u64| {
			let (r, _) = <MockRandomness as Randomness<_, _>>::random(b"verity/poc");
			let seed = polkadot_sdk::sp_io::hashing::blake2_256(
				&(r.unwrap().encode(), (round, Subject::Task(task))).encode(),
			);
			committee::draw(VERIFIERS.to_vec(), 3, &seed).unwrap()
		};
		let mut hits = 0;
		for trial in 0..TRIALS {
			let task = 100 + trial;
			inference_task(task, P1, 3);
			MockRandomness::set_seed(trial);
			while !committee_at(NextRound::<Test>::get(), task).contains(&COLLUDER) {
				run_to_block(System::block_number() + 1);
			}
			// Before the fix this committee was the one drawn: the colluder every time.
			let round = submit(task);
			let (_, members) = drawn(task);
			// The draw is the one this block's randomness gives.
			assert_eq!(members[1..], committee_at(round, task)[..]);
			if members.contains(&COLLUDER) {
				hits += 1;
			}
			// The job ends: the round closes without slashing anyone.
			MockMarket::remove(task);
		}
		// Chance: 22.5 of 60 (σ 3.75); timing would give 60.
		assert!(hits <= 40, "the colluder sat on {hits} of {TRIALS} committees");
	});
}

/// Finding 11: a committee of 1 was the provider alone (any reveal accepted), and the provider
/// counted in every quorum, so a provider and one colluder could stop a committee of 4 from
/// reaching a verdict: the task was re-run until it failed and the provider was never slashed.
/// Every committee now has at least three verifiers besides the provider, who is judged by them
/// and not counted in their quorum.
#[test]
fn finding_11_a_small_committee_gets_three_verifiers_who_judge_the_provider() {
	build_and_execute(|| {
		let (round, members) = open(TASK, 1);
		assert_eq!(members.len(), 4, "the provider and three verifiers");
		// Provider and colluder BAD, two honest verifiers GOOD. Before the fix: 2 of 4, no
		// quorum, a re-run, and no slash.
		play(round, &members, &[Some(BAD), Some(BAD), Some(GOOD), Some(GOOD)]);
		assert_eq!(MockMarket::rejected(), vec![TASK]);
		assert!(MockMarket::verified().is_empty() && TaskRounds::<Test>::get(TASK).is_none());
		assert_eq!(
			MockStake::slashes(),
			vec![(members[1], 100, SlashReason::WrongResult), (P1, 100, SlashReason::WrongResult)]
		);
		// A provider that does not reveal is judged all the same.
		let (round, members) = open(TASK + 1, 2);
		assert_eq!(members.len(), 4);
		play(round, &members, &[None, Some(GOOD), Some(GOOD), Some(GOOD)]);
		assert_eq!(MockMarket::rejected(), vec![TASK, TASK + 1]);
		assert!(MockStake::slashes().iter().any(|s| s.0 == P1 && s.2 == SlashReason::NoShow));
	});
}

/// Finding 15 (in part): verifiers used to earn only when they agreed with the provider, so
/// catching fraud paid nothing. Whoever a verdict convicts — a wrong or silent provider, a
/// dissenting verifier, an audited member caught — now pays `CatchBounty` (half) of its slash to
/// the agreeing verifiers.
/// Finding 26: the buyer, registered as a verifier, could be drawn to judge work done for it.
/// It is excluded from the task's committees (and their re-runs): over 20 tasks asking for half
/// the verifiers, a buyer who is one of them is never drawn (it would be, with probability
/// 1 − 2^-20, if it could).
#[test]
fn finding_26_a_buyer_never_verifies_its_own_job() {
	build_and_execute(|| {
		let buyer = VERIFIERS[0];
		for task in 100..120 {
			MockMarket::add(
				task,
				TaskInfo {
					job: task,
					kernel: EXACT,
					provider: P1,
					buyer,
					work: 5,
					committee: 4,
					training: false,
					epochs: 0,
					steps: 0,
					collateral: 0,
				},
			);
			submit(task);
			let (_, members) = drawn(task);
			assert_eq!(members.len(), 5);
			assert!(!members.contains(&buyer), "task {task}: {members:?}");
		}
	});
}

/// `try_state` now sees what would wait forever: a round whose close is not scheduled, a
/// verifier registered twice, an epoch whose pending count lost track of its audits.
#[test]
fn finding_27_try_state_catches_unscheduled_rounds_and_duplicate_verifiers() {
	new_test_ext().execute_with(|| {
		let (round, _) = open(TASK, 3);
		assert_ok!(Poc::do_try_state());
		let schedule: Vec<_> = Schedule::<Test>::iter().collect();
		for (at, _) in &schedule {
			Schedule::<Test>::remove(at);
		}
		assert_eq!(Poc::do_try_state(), Err("a round that never closes".into()));
		for (at, due) in schedule {
			Schedule::<Test>::insert(at, due);
		}
		assert!(Rounds::<Test>::contains_key(round));
		assert_ok!(Poc::do_try_state());
		Verifiers::<Test>::mutate(|v| {
			let first = v[0];
			v.try_push(first).unwrap();
		});
		assert_eq!(Poc::do_try_state(), Err("a verifier registered twice".into()));
	});
}

#[test]
fn finding_15_catching_a_wrong_provider_pays_the_verifiers_a_bounty() {
	build_and_execute(|| {
		let (round, members) = open(TASK, 3);
		play(round, &members, &[Some(BAD), Some(GOOD), Some(GOOD), Some(BAD)]);
		assert_eq!(MockMarket::rejected(), vec![TASK]);
		let catchers = vec![members[1], members[2]];
		// Before the fix: no bounty, and the catchers were credited nothing.
		assert_eq!(
			MockStake::bounties(),
			vec![(members[3], catchers.clone(), 50), (P1, catchers, 50)]
		);
		// A round without a verdict convicts nobody: no bounty.
		let (round, members) = open(TASK + 1, 3);
		play(round, &members, &[Some(GOOD), Some(1), Some(2), Some(3)]);
		assert_eq!(MockStake::bounties().len(), 2);
	});
}

/// Finding 15: a wrong or silent provider lost a share of its stake (10 %, 100 of 1,000 here)
/// whatever its task was worth. Its task's collateral (what the marketplace keeps bonded for it,
/// a multiple of the task's pay) is now the floor; a verifier's penalty is still a share.
#[test]
fn finding_15_a_convicted_provider_loses_at_least_its_tasks_collateral() {
	build_and_execute(|| {
		let with_collateral = |task: u64, collateral: u128| {
			inference_task(task, P1, 3);
			let mut info = MockMarket::task_of(task);
			info.collateral = collateral;
			MockMarket::add(task, info);
			submit(task);
			drawn(task)
		};
		let (round, members) = with_collateral(TASK, 400);
		play(round, &members, &[Some(BAD), Some(GOOD), Some(GOOD), Some(BAD)]);
		assert_eq!(MockMarket::rejected(), vec![TASK]);
		// Before the fix: (P1, 100, WrongResult).
		assert_eq!(
			MockStake::slashes(),
			vec![(members[3], 100, SlashReason::WrongResult), (P1, 400, SlashReason::WrongResult)]
		);
		// A silent provider: its collateral too (not 5 % of its stake).
		let (round, members) = with_collateral(TASK + 1, 250);
		play(round, &members, &[None, Some(GOOD), Some(GOOD), Some(GOOD)]);
		assert_eq!(MockStake::slashes().last(), Some(&(P1, 250, SlashReason::NoShow)));
		// A small task's collateral: the share of the stake is the larger.
		let (round, members) = with_collateral(TASK + 2, 1);
		play(round, &members, &[Some(BAD), Some(GOOD), Some(GOOD), Some(GOOD)]);
		assert_eq!(MockStake::slashes().last(), Some(&(P1, 35, SlashReason::WrongResult)));
	});
}

/// Finding 13: the accepted result used to be the lead's (the provider's) revealed CID, never
/// tied to the agreed digest: a provider with the right digest could deliver an unrelated blob.
/// The delivered CID is now the one most agreeing members revealed.
#[test]
fn finding_13_the_delivered_cid_is_the_one_most_agreeing_members_revealed() {
	build_and_execute(|| {
		let (round, members) = open(TASK, 3);
		for m in &members {
			commit_as(round, *m, GOOD);
		}
		let (commit_end, reveal_end) = ends(round);
		run_to_block(commit_end + 1);
		// The provider reveals the agreed digest with another blob's CID.
		assert_ok!(Poc::reveal(
			signed(P1),
			round,
			digest(GOOD),
			cid_input(cid_of(BAD)),
			nonce(P1),
			BoundedVec::new()
		));
		for m in &members[1..] {
			reveal_as(round, *m, GOOD);
		}
		run_to_block(reveal_end + 1);
		// Before the fix: cid_of(BAD).
		assert_eq!(
			MockMarket::verified(),
			vec![(TASK, cid_of(GOOD), vec![members[1], members[2], members[3]])]
		);
	});
}

/// Finding 2: `commit_epoch` used to take any epoch number, so one training provider could open
/// epochs (each a schedule entry and audit rounds for verifiers) without end. A task now commits
/// only its job's epochs, in order.
#[test]
fn finding_2_epochs_are_committed_in_order_and_only_as_many_as_the_job_has() {
	build_and_execute(|| {
		MockMarket::add(
			1,
			TaskInfo {
				job: 5,
				kernel: EXACT,
				provider: P1,
				buyer: BUYER,
				work: 1,
				committee: 0,
				training: true,
				epochs: 4,
				steps: 8,
				collateral: 0,
			},
		);
		let ckpt = || cid_input(Cid::of_raw_bytes(b"c"));
		let commit = |e: u32| Poc::commit_epoch(signed(P1), 1, e, ckpt(), 8, H256::zero());
		// Before the fix: both accepted.
		assert_noop!(commit(1), Error::<Test>::EpochOutOfRange);
		assert_noop!(commit(1_000), Error::<Test>::EpochOutOfRange);
		for e in 0..4 {
			assert_ok!(commit(e));
		}
		assert_noop!(commit(4), Error::<Test>::EpochOutOfRange);
		assert_eq!(EpochCommits::<Test>::iter_prefix(1).count(), 4);
	});
}

/// Finding 2 (the schedule): epochs took the same per-block slots as task rounds, so training
/// epochs closing together made every result submitted into that window fail with
/// `ScheduleFull` (and with it re-runs and audits). Epochs now close from a schedule of their
/// own: a full one refuses only the next epoch, and task rounds still open.
#[test]
fn finding_2_epochs_closing_together_leave_task_rounds_room() {
	build_and_execute(|| {
		let per_block = <<Test as Config>::MaxDuePerBlock as polkadot_sdk::frame_support::traits::Get<u32>>::get();
		let slots = u64::from(per_block * crate::impls::SCHEDULE_PROBE);
		let training = |task: u64| {
			training_task_of(task, task, P1);
			Poc::commit_epoch(signed(P1), task, 0, cid_input(cid_of(1)), 8, H256::zero())
		};
		let start = System::block_number();
		// One epoch of `slots` different jobs, all committed in one block: every slot from the
		// first close on (epoch window, then the draw delay) for 16 blocks.
		for t in 0..slots {
			assert_ok!(training(100 + t));
		}
		let first = start + default_params().epoch_window + DRAW;
		for b in first..first + u64::from(crate::impls::SCHEDULE_PROBE) {
			assert_eq!(EpochSchedule::<Test>::get(b).len() as u32, per_block, "block {b}");
		}
		assert_noop!(training(100 + slots), Error::<Test>::ScheduleFull);
		// A result submitted now has its committee drawn at `first`, in that full window.
		run_to_block(first - DRAW);
		inference_task(1, P2, 3);
		let round = submit(1); // before the fix: ScheduleFull
		assert!(Schedule::<Test>::get(first).contains(&Due::Draw(round, 3)));
		assert!(Schedule::<Test>::get(first).iter().all(|d| !matches!(d, Due::Epoch(..))));
	});
}

/// What `who` holds for epoch commitments.
fn epoch_held(who: AccountId) -> Balance {
	Balances::balance_on_hold(&HoldReason::EpochCommit.into(), &who)
}

/// Finding 2 (the deposit): an epoch commitment cost only its transaction fee, though it opens
/// an epoch entry, a commitment and audits. Each one now holds `EpochDeposit` from the member
/// while it is live, and the deposit comes back when the epoch's audits end.
#[test]
fn finding_2_each_epoch_commitment_holds_a_deposit_until_its_audits_end() {
	build_and_execute(|| {
		honest_epoch_drawn();
		for who in [P1, P2] {
			assert_eq!(epoch_held(who), EPOCH_DEPOSIT, "before the fix: nothing held");
			assert_eq!(Balances::balance(&who), INITIAL - EPOCH_DEPOSIT);
		}
		assert_eq!(EpochDeposits::<Test>::get(1, 0), Some((P1, EPOCH_DEPOSIT)));
		Poc::do_try_state().unwrap();
		run_audits(&[(P1, leaves(&[])), (P2, leaves(&[]))]);
		assert!(EpochHistory::<Test>::get(5, 0).is_some());
		for who in [P1, P2] {
			assert_eq!(epoch_held(who), 0);
			assert_eq!(Balances::balance(&who), INITIAL);
		}
		assert_eq!(EpochDeposits::<Test>::iter().count(), 0);
	});
}

/// A member that cannot pay the deposit commits nothing: no epoch opens, nothing is scheduled.
#[test]
fn finding_2_a_member_that_cannot_pay_the_epoch_deposit_commits_nothing() {
	build_and_execute(|| {
		training_task(1, P1);
		// Keep the account alive (existential deposit 1) but short of the deposit.
		Balances::set_balance(&P1, EPOCH_DEPOSIT);
		let commit = || {
			Poc::commit_epoch(
				signed(P1),
				1,
				0,
				cid_input(Cid::of_raw_bytes(b"checkpoint-0")),
				8,
				merkle_root(&leaves(&[])),
			)
		};
		assert_noop!(commit(), Error::<Test>::CannotPayDeposit);
		assert!(Epochs::<Test>::get(5, 0).is_none());
		assert_eq!(EpochSchedule::<Test>::iter().count(), 0);
		Balances::set_balance(&P1, EPOCH_DEPOSIT + 1);
		assert_ok!(commit());
		assert_eq!(epoch_held(P1), EPOCH_DEPOSIT);
	});
}

/// A member an audit convicts loses its deposit (burnt: total issuance falls by it) besides its
/// slash; an honest member of the same epoch gets its deposit back.
#[test]
fn finding_2_a_convicted_member_forfeits_its_epoch_deposit() {
	build_and_execute(|| {
		training_task(1, P1);
		training_task(2, P2);
		let faked = leaves(&[0, 1, 2, 3, 4, 5, 6, 7]);
		commit_epoch(1, P1, &leaves(&[]));
		commit_epoch(2, P2, &faked);
		const SEED: u64 = 3;
		// A seed whose draw audits P2 (seed 0 audits only P1).
		MockRandomness::set_seed(SEED);
		run_to_block(Epochs::<Test>::get(5, 0).unwrap().closes_at + DRAW);
		let audited: Vec<AccountId> = Audits::<Test>::iter().map(|(_, a)| a.member).collect();
		assert!(audited.contains(&P2), "seed {SEED} draws an audit of P2");
		let issuance = Balances::total_issuance();
		run_audits(&[(P1, leaves(&[])), (P2, faked)]);
		assert_eq!(epoch_held(P1), 0);
		assert_eq!(Balances::balance(&P1), INITIAL, "an honest member's deposit comes back");
		assert_eq!(epoch_held(P2), 0);
		System::assert_has_event(
			Event::EpochDepositForfeited { task: 2, epoch: 0, member: P2, amount: EPOCH_DEPOSIT }
				.into(),
		);
		assert_eq!(Balances::balance(&P2), INITIAL - EPOCH_DEPOSIT);
		assert_eq!(Balances::total_issuance(), issuance - EPOCH_DEPOSIT);
		assert_eq!(EpochDeposits::<Test>::iter().count(), 0);
	});
}

/// A task reassigned mid-job: the predecessor's deposits go back to the predecessor, the
/// newcomer pays for its own commitments.
#[test]
fn finding_2_a_reassigned_tasks_deposits_stay_with_whoever_committed() {
	build_and_execute(|| {
		const P3: AccountId = 3;
		training_task(2, P2);
		commit_epoch(2, P2, &leaves(&[]));
		let info = TaskInfo { epochs: 2, ..MockMarket::task_of(2) };
		MockMarket::add(2, TaskInfo { provider: P3, ..info.clone() });
		<Poc as TaskVerifier<_>>::task_reassigned(2, &MockMarket::task_of(2), &[2]);
		assert_ok!(Poc::commit_epoch(
			signed(P3),
			2,
			1,
			cid_input(Cid::of_raw_bytes(b"checkpoint-1")),
			8,
			merkle_root(&leaves(&[]))
		));
		assert_eq!(EpochDeposits::<Test>::get(2, 0), Some((P2, EPOCH_DEPOSIT)));
		assert_eq!(EpochDeposits::<Test>::get(2, 1), Some((P3, EPOCH_DEPOSIT)));
		assert_eq!((epoch_held(P2), epoch_held(P3)), (EPOCH_DEPOSIT, EPOCH_DEPOSIT));
		// Both epochs end: each deposit goes back to whoever paid it, not to the task's
		// provider of the day.
		run_to_block(Epochs::<Test>::get(5, 1).unwrap().closes_at + DRAW);
		run_audits(&[(P2, leaves(&[])), (P3, leaves(&[]))]);
		assert!(Epochs::<Test>::get(5, 0).is_none() && Epochs::<Test>::get(5, 1).is_none());
		assert_eq!(EpochDeposits::<Test>::iter().count(), 0);
		assert_eq!((Balances::balance(&P2), Balances::balance(&P3)), (INITIAL, INITIAL));
	});
}

/// Finding 3: a training result used to be verifiable with no epoch committed, or before the
/// audits of its epochs ended, and an epoch invalidated after submission did not stop payment.
#[test]
fn finding_3_training_results_wait_for_every_epoch_and_its_audits() {
	build_and_execute(|| {
		training_task(1, P1); // one epoch
		training_task(2, P2);
		let verify = |t| <Poc as TaskVerifier<_>>::verify(t, &MockMarket::task_of(t), &cid_of(1));
		// (a) Before the fix: verified with no epoch at all.
		assert_noop!(verify(1), Error::<Test>::EpochsMissing);
		commit_epoch(1, P1, &leaves(&[]));
		commit_epoch(2, P2, &leaves(&[]));
		// (d) Before the fix: verified right after the last commitment, ahead of its audits.
		assert_noop!(verify(1), Error::<Test>::EpochNotAudited);
		run_to_block(Epochs::<Test>::get(5, 0).unwrap().closes_at + DRAW);
		run_audits(&[(P1, leaves(&[])), (P2, leaves(&[]))]);
		assert_ok!(verify(1));
		// An epoch invalidated while the round runs: the verdict is a rejection, not a payment.
		let (round, members) = drawn(1);
		Invalidated::<Test>::insert(1, 0);
		play(round, &members, &vec![Some(GOOD); members.len()]);
		assert!(MockMarket::verified().is_empty());
		assert_eq!(MockMarket::rejected(), vec![1]);
	});
}

/// Finding 3 (b): the step count used to be the member's word, so a member that computed one
/// step honestly could commit a one-leaf tree, and every audit (drawn among its steps) landed on
/// that step and passed. The count is now the job's (8 here): the short tree is refused and
/// changes nothing, and the audits are drawn among the job's steps.
#[test]
fn finding_3_a_member_cannot_declare_fewer_steps_than_the_job_has() {
	build_and_execute(|| {
		training_task(1, P1);
		let one_honest_step = [grad(0)];
		assert_noop!(
			Poc::commit_epoch(
				signed(P1),
				1,
				0,
				cid_input(Cid::of_raw_bytes(b"checkpoint-0")),
				1,
				merkle_root(&one_honest_step)
			),
			Error::<Test>::WrongSteps
		);
		assert_eq!(NextEpoch::<Test>::get(1), 0);
		commit_epoch(1, P1, &leaves(&[]));
		assert_eq!(EpochCommits::<Test>::get(1, 0).unwrap().steps, 8);
	});
}

/// Issue 15, item 4: the crate docs' catch probability `1 − (1 − f/G)^s`, checked against the
/// pallet's own audit draw over many seeds. A group of `G = 3` members with 8 steps each; one
/// member faked `f = 2/8` of its steps; `s = 4` audits per epoch. Each seed is one epoch closed
/// by the hook; the share of epochs in which an audit landed on a faked step must match the
/// formula within 4 standard deviations (so the test fails if the draw is biased towards or away
/// from any member or step, or audits repeat).
#[test]
fn the_catch_probability_matches_the_formula_over_many_seeds() {
	const RUNS: u64 = 2000;
	let (g, f, s) = (3.0f64, 2.0 / 8.0, 4i32);
	let faked = [3u32, 6];
	let mut caught = 0u64;
	for seed in 0..RUNS {
		new_test_ext().execute_with(|| {
			MockStake::set(3, 1_000);
			Params::<Test>::put(PocParams { audits_per_epoch: s as u32, ..default_params() });
			MockRandomness::set_seed(seed + 1);
			for (task, who) in [(1, P1), (2, P2), (3, 3)] {
				training_task(task, who);
				commit_epoch(task, who, &leaves(if task == 2 { &faked } else { &[] }));
			}
			run_to_block(Epochs::<Test>::get(5, 0).unwrap().closes_at + DRAW);
			let audits: Vec<Audit<Test>> = Audits::<Test>::iter_values().collect();
			assert_eq!(audits.len(), s as usize);
			if audits.iter().any(|a| a.task == 2 && faked.contains(&a.step)) {
				caught += 1;
			}
		});
	}
	let expected = 1.0 - (1.0 - f / g).powi(s);
	let share = caught as f64 / RUNS as f64;
	let sigma = (expected * (1.0 - expected) / RUNS as f64).sqrt();
	assert!(
		(share - expected).abs() <= 4.0 * sigma,
		"caught in {share:.4} of epochs; the formula says {expected:.4} (σ {sigma:.4})"
	);
}

/// Finding 12 (in part): closing a round reports its verdict to the market, which may complete
/// and pay a whole job; that callback's weight was charged nowhere. The hook now charges the
/// market's `outcome_weight` with every round it closes.
#[test]
fn finding_12_a_closing_rounds_market_callback_is_charged() {
	use crate::weights::WeightInfo;
	build_and_execute(|| {
		let (round, members) = open(1, 3);
		let (_, reveal_end) = ends(round);
		for m in &members {
			commit_as(round, *m, GOOD);
		}
		run_to_block(reveal_end);
		for m in &members {
			reveal_as(round, *m, GOOD);
		}
		let due = reveal_end + 1;
		assert!(Schedule::<Test>::get(due).contains(&Due::Round(round)));
		System::set_block_number(due);
		let weight = Poc::do_on_initialize(due);
		assert_eq!(MockMarket::verified().len(), 1);
		// Before the fix: `close_round(MaxCommittee)` plus the schedule's own read and write.
		// Now also the worst of its contested and no-show closes (their own benchmarks).
		let k =
			<<Test as Config>::MaxCommittee as polkadot_sdk::frame_support::traits::Get<u32>>::get(
			);
		let closing = <() as WeightInfo>::close_round(k)
			.max(<() as WeightInfo>::close_round_contested(k))
			.max(<() as WeightInfo>::close_round_no_show(k));
		assert!(
			weight.all_gte(closing.saturating_add(OUTCOME_WEIGHT)),
			"{weight:?} does not cover {closing:?} + {OUTCOME_WEIGHT:?}"
		);
	});
}
