//! How many of the chain's busiest calls fit in one block, from the runtime's own weights (the
//! committed `weights.rs` files and the runtime's block limits): a transfer, a voucher redeem (one
//! alone and per channel in a full batch), a committee commit and reveal, an epoch commitment and
//! the deepest audit leaf. Each must fit often enough that a full committee's round, or a full
//! redeem batch, never needs more than a block. `docs/benchmarks.md` prints the table from
//! `cargo test -p verity-runtime --test capacity -- --nocapture`.

use polkadot_sdk::{
	frame_support::{
		dispatch::DispatchClass,
		traits::Get,
		weights::{Weight, WeightToFee as _},
	},
	*,
};
use verity_runtime::Runtime;

fn normal() -> (Weight, Weight) {
	let weights = <Runtime as frame_system::Config>::BlockWeights::get();
	let class = weights.get(DispatchClass::Normal);
	(class.max_total.expect("normal blocks have a limit"), class.base_extrinsic)
}

/// Calls of weight `call` that fit in one block's normal class, each with the base extrinsic
/// weight (signature check, nonce, fee) on top.
fn per_block(call: Weight) -> u64 {
	let (max, base) = normal();
	let each = call.saturating_add(base);
	max.ref_time() / each.ref_time().max(1)
}

#[test]
fn the_busiest_calls_fit_a_block_many_times_over() {
	use pallet_balances::WeightInfo as _;
	use pallet_fee_settlement::weights::WeightInfo as _;
	use pallet_proof_of_compute::weights::WeightInfo as _;
	type Balances = <Runtime as pallet_balances::Config>::WeightInfo;
	type Fees = <Runtime as pallet_fee_settlement::Config>::WeightInfo;
	type Poc = <Runtime as pallet_proof_of_compute::Config>::WeightInfo;

	let batch: u32 = <Runtime as pallet_fee_settlement::Config>::MaxBatch::get();
	let depth: u32 = <Runtime as pallet_proof_of_compute::Config>::MaxProofDepth::get();
	let committee: u32 = <Runtime as pallet_proof_of_compute::Config>::MaxCommittee::get();
	let (max, base) = normal();
	println!(
		"normal class: {:.0} ms of a block, {:.1} µs base per extrinsic",
		max.ref_time() as f64 / 1e9,
		base.ref_time() as f64 / 1e6
	);
	println!("| call | weight (µs) | per block |");
	println!("|---|---|---|");
	let row = |name: &str, call: Weight, per: u64| {
		println!("| {name} | {:.1} | {per} |", call.ref_time() as f64 / 1e6);
		per
	};
	let transfers = row(
		"balances.transfer_keep_alive",
		Balances::transfer_keep_alive(),
		per_block(Balances::transfer_keep_alive()),
	);
	let redeems = row("feeSettlement.redeem", Fees::redeem(), per_block(Fees::redeem()));
	// A full batch is one extrinsic: channels per block are batches per block times the batch.
	let batches = per_block(Fees::redeem_batch(batch));
	let channels = row(
		&format!("feeSettlement.redeem_batch({batch}), per channel"),
		Fees::redeem_batch(batch) / u64::from(batch),
		batches * u64::from(batch),
	);
	let commits = row("proofOfCompute.commit", Poc::commit(), per_block(Poc::commit()));
	let reveals = row("proofOfCompute.reveal", Poc::reveal(), per_block(Poc::reveal()));
	let epochs =
		row("proofOfCompute.commit_epoch", Poc::commit_epoch(), per_block(Poc::commit_epoch()));
	let leaves = row(
		&format!("proofOfCompute.reveal_leaf({depth})"),
		Poc::reveal_leaf(depth),
		per_block(Poc::reveal_leaf(depth)),
	);
	println!(
		"fee of a transfer's weight: {} planck",
		<Runtime as pallet_transaction_payment::Config>::WeightToFee::weight_to_fee(
			&Balances::transfer_keep_alive()
		)
	);

	// A committee's commits (or reveals) and a full group's epoch commitments fit in one block,
	// and so does a full redeem batch; transfers are never the bottleneck of a block.
	let group: u32 = <Runtime as pallet_proof_of_compute::Config>::MaxGroup::get();
	assert!(commits >= u64::from(committee), "{commits} commits per block");
	assert!(reveals >= u64::from(committee), "{reveals} reveals per block");
	assert!(epochs >= u64::from(group), "{epochs} epoch commitments per block");
	assert!(leaves >= 1, "a deepest audit leaf must fit");
	assert!(batches >= 1, "a full redeem batch must fit ({channels} channels)");
	assert!(redeems >= 1 && transfers >= redeems, "{transfers} transfers, {redeems} redeems");
}
