use crate::{mock::*, pallet::*, types::*, CidInput, Error, Event};
use codec::Encode;
use polkadot_sdk::{
	frame_support::{assert_noop, assert_ok, traits::fungible::InspectHold, BoundedVec},
	sp_runtime::DispatchError,
};
use verity_primitives::{
	cid::Cid,
	kernel::{AggregationRule, DeviceClass, KernelId, KernelInspect},
	market::TrainingRecords,
};

fn cid_text(content: &[u8]) -> CidInput {
	Cid::of_raw_bytes(content).to_text().into_bytes().try_into().unwrap()
}

fn env() -> Environment {
	Environment {
		libtorch: b"2.11.0".to_vec().try_into().unwrap(),
		device: DeviceClass::Cpu,
		dtype: DType::F32,
		deterministic_algorithms: true,
		tf32_disabled: true,
		seed: 42,
	}
}

fn tensor(shape: &[u32]) -> TensorSpec {
	TensorSpec { dtype: DType::F32, shape: shape.to_vec().try_into().unwrap() }
}

fn spec(content: &[u8], supersedes: Option<KernelId>) -> KernelSpec {
	KernelSpec {
		archive: Cid::of_raw_bytes(content),
		environment: env(),
		inputs: vec![tensor(&[0, 64])].try_into().unwrap(),
		outputs: vec![tensor(&[0, 10])].try_into().unwrap(),
		inference_flops: 9_000,
		train_flops: 27_000,
		rule: AggregationRule::ExactDigest,
		supersedes,
	}
}

fn register(who: AccountId, s: &KernelSpec) -> DispatchResultId {
	Registry::register_kernel(
		RuntimeOrigin::signed(who),
		s.archive.to_text().into_bytes().try_into().unwrap(),
		s.environment.clone(),
		s.inputs.clone(),
		s.outputs.clone(),
		s.inference_flops,
		s.train_flops,
		s.rule,
		s.supersedes,
	)
	.map(|_| s.id(&who))
}

type DispatchResultId = Result<KernelId, DispatchError>;

fn deposit_of(s: &KernelSpec) -> Balance {
	100 + s.encoded_size() as Balance
}

fn held(who: AccountId) -> Balance {
	Balances::balance_on_hold(&HoldReason::KernelDeposit.into(), &who)
}

#[test]
fn register_kernel_works() {
	build_and_execute(|| {
		let s = spec(b"digits.pt", None);
		assert_ok!(Registry::register_kernel(
			RuntimeOrigin::signed(ALICE),
			cid_text(b"digits.pt"),
			env(),
			s.inputs.clone(),
			s.outputs.clone(),
			9_000,
			27_000,
			AggregationRule::ExactDigest,
			None,
		));
		let id = s.id(&ALICE);
		let entry = Kernels::<Test>::get(id).unwrap();
		assert_eq!(entry.spec, s);
		assert_eq!(entry.owner, ALICE);
		assert_eq!(entry.status, KernelStatus::Active);
		assert_eq!(entry.deposit, deposit_of(&s));
		assert_eq!(held(ALICE), deposit_of(&s));
		System::assert_last_event(
			Event::KernelRegistered {
				kernel: id,
				owner: ALICE,
				archive: s.archive,
				deposit: deposit_of(&s),
				supersedes: None,
			}
			.into(),
		);
		let info = <Registry as KernelInspect<_>>::kernel(&id).unwrap();
		assert_eq!((info.inference_flops, info.train_flops, info.usable), (9_000, 27_000, true));
		assert_eq!(Registry::kernel(id).unwrap().owner, ALICE);
	});
}

#[test]
fn register_accepts_binary_and_dag_pb_cids() {
	build_and_execute(|| {
		let mut s = spec(b"a", None);
		s.archive.codec = verity_primitives::cid::CidCodec::DagPb;
		assert_ok!(Registry::register_kernel(
			RuntimeOrigin::signed(ALICE),
			s.archive.to_bytes().to_vec().try_into().unwrap(),
			s.environment.clone(),
			s.inputs.clone(),
			s.outputs.clone(),
			s.inference_flops,
			s.train_flops,
			s.rule,
			None,
		));
		assert!(Kernels::<Test>::contains_key(s.id(&ALICE)));
	});
}

#[test]
fn identical_records_of_one_owner_collide_but_any_difference_is_a_new_kernel() {
	build_and_execute(|| {
		let s = spec(b"k", None);
		assert_ok!(register(ALICE, &s));
		assert_noop!(register(ALICE, &s), Error::<Test>::KernelExists);
		let mut other = s.clone();
		other.environment.seed = 43;
		assert_ne!(other.id(&ALICE), s.id(&ALICE));
		assert_ok!(register(ALICE, &other));
	});
}

/// Security review finding 16: the id used to hash the record alone, so whoever saw ALICE's
/// `register_kernel` in the pool could register the same record first, own ALICE's id, and
/// deprecate it — blocking every new job on it. The owner is now in the id's preimage: BOB's copy
/// is a kernel of its own, ALICE still registers hers, and BOB's deprecation touches only his.
#[test]
fn finding_16_a_front_run_copy_of_a_record_cannot_squat_its_id() {
	build_and_execute(|| {
		let s = spec(b"digits.pt", None);
		let bobs = register(BOB, &s).unwrap();
		// Before the fix: ALICE's registration failed with `KernelExists`.
		let alices = register(ALICE, &s).unwrap();
		assert_ne!(bobs, alices);
		assert_eq!(Kernels::<Test>::get(alices).unwrap().owner, ALICE);
		assert_ok!(Registry::deprecate_kernel(RuntimeOrigin::signed(BOB), bobs));
		assert_noop!(
			Registry::deprecate_kernel(RuntimeOrigin::signed(BOB), alices),
			Error::<Test>::NotOwner
		);
		// Before the fix: `AlreadyDeprecated`, so `post_job` failed with `KernelDeprecated`.
		assert_ok!(<Registry as KernelInspect<_>>::acquire(&alices));
		assert!(!<Registry as KernelInspect<_>>::kernel(&bobs).unwrap().usable);
	});
}

#[test]
fn register_rejects_bad_input_and_changes_nothing() {
	build_and_execute(|| {
		let s = spec(b"k", None);
		let call = |archive: CidInput, s: KernelSpec| {
			Registry::register_kernel(
				RuntimeOrigin::signed(ALICE),
				archive,
				s.environment,
				s.inputs,
				s.outputs,
				s.inference_flops,
				s.train_flops,
				s.rule,
				s.supersedes,
			)
		};
		for bad in [
			&b""[..],
			b"QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG",
			b"bafkrei!!",
			b"not a cid",
			&Cid::of_raw_bytes(b"k").to_bytes()[..35],
		] {
			assert_noop!(
				call(bad.to_vec().try_into().unwrap(), s.clone()),
				Error::<Test>::InvalidCid
			);
		}
		let mut v = Cid::of_raw_bytes(b"k").to_bytes();
		v[1] = 0x71;
		assert_noop!(call(v.to_vec().try_into().unwrap(), s.clone()), Error::<Test>::InvalidCid);

		let mut no_inputs = s.clone();
		no_inputs.inputs = BoundedVec::new();
		assert_noop!(call(cid_text(b"k"), no_inputs), Error::<Test>::InvalidSchema);
		let mut scalar = s.clone();
		scalar.outputs = vec![tensor(&[])].try_into().unwrap();
		assert_noop!(call(cid_text(b"k"), scalar), Error::<Test>::InvalidSchema);
		let mut no_version = s.clone();
		no_version.environment.libtorch = BoundedVec::new();
		assert_noop!(call(cid_text(b"k"), no_version), Error::<Test>::InvalidSchema);
		for rule in [
			AggregationRule::QuantisedDigest { decimals: 13 },
			AggregationRule::NumericTolerance { len: 0, abs_tolerance: 1, rel_tolerance_ppm: 0 },
			AggregationRule::NumericTolerance { len: 65, abs_tolerance: 1, rel_tolerance_ppm: 0 },
			AggregationRule::NumericTolerance {
				len: 4,
				abs_tolerance: 1,
				rel_tolerance_ppm: 1_000_001,
			},
		] {
			let mut r = s.clone();
			r.rule = rule;
			assert_noop!(call(cid_text(b"k"), r), Error::<Test>::InvalidRule);
		}
		let mut free = s.clone();
		free.inference_flops = 0;
		assert_noop!(call(cid_text(b"k"), free), Error::<Test>::ZeroCost);
		let mut unknown = s.clone();
		unknown.supersedes = Some(KernelId::repeat_byte(9));
		assert_noop!(call(cid_text(b"k"), unknown), Error::<Test>::UnknownKernel);
		assert_noop!(
			Registry::register_kernel(
				RuntimeOrigin::signed(POOR),
				cid_text(b"k"),
				s.environment.clone(),
				s.inputs.clone(),
				s.outputs.clone(),
				s.inference_flops,
				s.train_flops,
				s.rule,
				None,
			),
			Error::<Test>::InsufficientDeposit
		);
		assert_eq!(Kernels::<Test>::iter().count(), 0);
	});
}

#[test]
fn new_version_supersedes_and_old_stays_readable() {
	build_and_execute(|| {
		let v1 = register(ALICE, &spec(b"v1", None)).unwrap();
		let v2 = register(ALICE, &spec(b"v2", Some(v1))).unwrap();
		assert_eq!(Kernels::<Test>::get(v1).unwrap().superseded_by, Some(v2));
		assert!(<Registry as KernelInspect<_>>::kernel(&v1).unwrap().usable);
		System::assert_last_event(
			Event::KernelRegistered {
				kernel: v2,
				owner: ALICE,
				archive: Cid::of_raw_bytes(b"v2"),
				deposit: deposit_of(&spec(b"v2", Some(v1))),
				supersedes: Some(v1),
			}
			.into(),
		);
		// Only the owner may supersede, and only once.
		assert_noop!(register(BOB, &spec(b"v2b", Some(v1))), Error::<Test>::NotOwner);
		assert_noop!(register(ALICE, &spec(b"v2c", Some(v1))), Error::<Test>::AlreadySuperseded);
	});
}

#[test]
fn deprecate_stops_new_jobs_but_not_reads() {
	build_and_execute(|| {
		let id = register(ALICE, &spec(b"k", None)).unwrap();
		assert_noop!(
			Registry::deprecate_kernel(RuntimeOrigin::signed(BOB), id),
			Error::<Test>::NotOwner
		);
		assert_noop!(
			Registry::deprecate_kernel(RuntimeOrigin::signed(ALICE), KernelId::zero()),
			Error::<Test>::UnknownKernel
		);
		assert_ok!(Registry::deprecate_kernel(RuntimeOrigin::signed(ALICE), id));
		System::assert_last_event(Event::KernelDeprecated { kernel: id, forced: false }.into());
		assert_noop!(
			Registry::deprecate_kernel(RuntimeOrigin::signed(ALICE), id),
			Error::<Test>::AlreadyDeprecated
		);
		assert!(!<Registry as KernelInspect<_>>::kernel(&id).unwrap().usable);
		assert_noop!(
			<Registry as KernelInspect<_>>::acquire(&id),
			Error::<Test>::AlreadyDeprecated
		);
	});
}

#[test]
fn force_deprecate_needs_admin() {
	build_and_execute(|| {
		let id = register(ALICE, &spec(b"k", None)).unwrap();
		assert_noop!(
			Registry::force_deprecate_kernel(RuntimeOrigin::signed(ALICE), id),
			DispatchError::BadOrigin
		);
		assert_ok!(Registry::force_deprecate_kernel(RuntimeOrigin::root(), id));
		System::assert_last_event(Event::KernelDeprecated { kernel: id, forced: true }.into());
		assert_noop!(
			Registry::force_deprecate_kernel(RuntimeOrigin::root(), id),
			Error::<Test>::AlreadyDeprecated
		);
	});
}

#[test]
fn remove_returns_deposit_only_when_deprecated_and_unused() {
	build_and_execute(|| {
		let s = spec(b"k", None);
		let id = register(ALICE, &s).unwrap();
		let free = Balances::free_balance(ALICE);
		assert_noop!(
			Registry::remove_kernel(RuntimeOrigin::signed(ALICE), id),
			Error::<Test>::NotDeprecated
		);
		assert_ok!(<Registry as KernelInspect<_>>::acquire(&id));
		assert_ok!(Registry::deprecate_kernel(RuntimeOrigin::signed(ALICE), id));
		assert_noop!(
			Registry::remove_kernel(RuntimeOrigin::signed(ALICE), id),
			Error::<Test>::InUse
		);
		assert_noop!(
			Registry::remove_kernel(RuntimeOrigin::signed(BOB), id),
			Error::<Test>::NotOwner
		);
		<Registry as KernelInspect<_>>::release(&id);
		assert_ok!(Registry::remove_kernel(RuntimeOrigin::signed(ALICE), id));
		System::assert_last_event(
			Event::KernelRemoved { kernel: id, owner: ALICE, deposit: deposit_of(&s) }.into(),
		);
		assert_eq!(Balances::free_balance(ALICE), free + deposit_of(&s));
		assert_eq!(held(ALICE), 0);
		assert!(<Registry as KernelInspect<_>>::kernel(&id).is_none());
		assert_noop!(
			Registry::remove_kernel(RuntimeOrigin::signed(ALICE), id),
			Error::<Test>::UnknownKernel
		);
	});
}

#[test]
fn acquire_counts_jobs() {
	build_and_execute(|| {
		let id = register(ALICE, &spec(b"k", None)).unwrap();
		assert_ok!(<Registry as KernelInspect<_>>::acquire(&id));
		assert_ok!(<Registry as KernelInspect<_>>::acquire(&id));
		assert_eq!(Kernels::<Test>::get(id).unwrap().jobs, 2);
		<Registry as KernelInspect<_>>::release(&id);
		assert_eq!(Kernels::<Test>::get(id).unwrap().jobs, 1);
		assert_noop!(
			<Registry as KernelInspect<_>>::acquire(&KernelId::zero()),
			Error::<Test>::UnknownKernel
		);
	});
}

#[test]
fn kernel_id_is_blake2_of_the_domain_the_owner_and_the_record() {
	let s = spec(b"k", None);
	let mut preimage = b"verity/kernel/v1".to_vec();
	preimage.extend_from_slice(&ALICE.encode());
	preimage.extend_from_slice(&s.encode());
	assert_eq!(s.id(&ALICE), KernelId::from(polkadot_sdk::sp_io::hashing::blake2_256(&preimage)));
	assert_ne!(s.id(&ALICE), s.id(&BOB));
}

fn register_trained(who: AccountId, job: u64, s: &KernelSpec) -> DispatchResultId {
	Registry::register_trained_kernel(
		RuntimeOrigin::signed(who),
		job,
		s.archive.to_text().into_bytes().try_into().unwrap(),
		s.environment.clone(),
		s.inputs.clone(),
		s.outputs.clone(),
		s.inference_flops,
		s.train_flops,
		s.rule,
	)
	.map(|_| s.id(&who))
}

#[test]
fn a_trained_model_becomes_the_next_version_with_its_lineage() {
	build_and_execute(|| {
		let base = register(ALICE, &spec(b"digits.pt", None)).unwrap();
		let checkpoint = Cid::of_raw_bytes(b"final.safetensors");
		MockTraining::complete(7, ALICE, base, checkpoint, 5);
		// The record supersedes the trained kernel whatever the caller would have put there.
		let trained = spec(b"digits-trained.pt", Some(base));
		let id = register_trained(ALICE, 7, &trained).unwrap();
		assert_eq!(Lineage::<Test>::get(id), Some(TrainedFrom { job: 7, checkpoint, epochs: 5 }));
		assert_eq!(Kernels::<Test>::get(base).unwrap().superseded_by, Some(id));
		assert_eq!(MockTraining::trained(7).unwrap().version, Some(id));
		System::assert_has_event(
			Event::KernelTrained { kernel: id, base, job: 7, checkpoint }.into(),
		);
		// The history walks back from the newest version to the root.
		assert_eq!(
			Registry::history(id),
			vec![(id, Some(TrainedFrom { job: 7, checkpoint, epochs: 5 })), (base, None)]
		);
		// A second training of the new version chains on.
		let checkpoint2 = Cid::of_raw_bytes(b"final2.safetensors");
		MockTraining::complete(9, ALICE, id, checkpoint2, 3);
		let again = register_trained(ALICE, 9, &spec(b"digits-trained-2.pt", Some(id))).unwrap();
		assert_eq!(
			Registry::history(again)
				.iter()
				.map(|(k, l)| (*k, l.map(|l| l.job)))
				.collect::<Vec<_>>(),
			vec![(again, Some(9)), (id, Some(7)), (base, None)]
		);
	});
}

#[test]
fn register_trained_refuses_bad_input_and_changes_nothing() {
	build_and_execute(|| {
		let base = register(ALICE, &spec(b"digits.pt", None)).unwrap();
		let other = register(BOB, &spec(b"other.pt", None)).unwrap();
		let checkpoint = Cid::of_raw_bytes(b"final.safetensors");
		MockTraining::complete(1, ALICE, base, checkpoint, 2);
		// Bob trained Alice's kernel: his model cannot become her kernel's version.
		MockTraining::complete(2, BOB, base, checkpoint, 2);
		let trained = spec(b"digits-trained.pt", Some(base));
		assert_noop!(register_trained(ALICE, 3, &trained), Error::<Test>::UnknownTraining);
		assert_noop!(register_trained(BOB, 1, &trained), Error::<Test>::NotBuyer);
		assert_noop!(register_trained(BOB, 2, &trained), Error::<Test>::NotOwner);
		// Bad records are refused as by `register_kernel`.
		let mut bad = trained.clone();
		bad.inference_flops = 0;
		assert_noop!(register_trained(ALICE, 1, &bad), Error::<Test>::ZeroCost);
		assert_noop!(
			Registry::register_trained_kernel(
				RuntimeOrigin::signed(ALICE),
				1,
				b"not a cid".to_vec().try_into().unwrap(),
				env(),
				trained.inputs.clone(),
				trained.outputs.clone(),
				9_000,
				27_000,
				AggregationRule::ExactDigest,
			),
			Error::<Test>::InvalidCid
		);
		// A base that already has a newer version.
		MockTraining::complete(4, BOB, other, checkpoint, 2);
		register(BOB, &spec(b"other-2.pt", Some(other))).unwrap();
		assert_noop!(
			register_trained(BOB, 4, &spec(b"other-3.pt", Some(other))),
			Error::<Test>::AlreadySuperseded
		);
		// One version per model.
		let id = register_trained(ALICE, 1, &trained).unwrap();
		assert_noop!(
			register_trained(ALICE, 1, &spec(b"digits-trained-b.pt", Some(base))),
			Error::<Test>::AlreadyRegistered
		);
		assert_eq!(Lineage::<Test>::iter().count(), 1);
		assert!(Lineage::<Test>::contains_key(id));
	});
}

#[test]
fn removing_a_trained_version_unlinks_its_model() {
	build_and_execute(|| {
		let base = register(ALICE, &spec(b"digits.pt", None)).unwrap();
		let checkpoint = Cid::of_raw_bytes(b"final.safetensors");
		MockTraining::complete(1, ALICE, base, checkpoint, 2);
		let id = register_trained(ALICE, 1, &spec(b"digits-trained.pt", Some(base))).unwrap();
		assert_ok!(Registry::deprecate_kernel(RuntimeOrigin::signed(ALICE), id));
		assert_ok!(Registry::remove_kernel(RuntimeOrigin::signed(ALICE), id));
		assert!(!Lineage::<Test>::contains_key(id));
		assert_eq!(MockTraining::trained(1).unwrap().version, None);
	});
}
