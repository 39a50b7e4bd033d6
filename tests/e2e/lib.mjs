// Shared helpers for the end-to-end tests: connect to the node under test, sign and wait.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiPromise, WsProvider } from '@polkadot/api';
import { Keyring } from '@polkadot/keyring';
import { u8aConcat, u8aToHex } from '@polkadot/util';
import { cryptoWaitReady, sha256AsU8a } from '@polkadot/util-crypto';
// The dashboard's own writer of CID text (checked there against the CID `ipfs` prints).
import { cidText } from '../../dashboard/src/format.js';

export const WS = process.env.VERITY_WS || 'ws://127.0.0.1:9944';
export const VER = 10n ** 12n;

/** Connects with no custom types: everything comes from the runtime's metadata. */
export async function connect() {
  await cryptoWaitReady();
  const api = await ApiPromise.create({ provider: new WsProvider(WS), noInitWarn: true, throwOnConnect: true });
  const keyring = new Keyring({ type: 'sr25519', ss58Format: api.registry.chainSS58 });
  return { api, keyring };
}

/** Human-readable name of a dispatch error, e.g. `balances.InsufficientBalance` or `token.FundsUnavailable`. */
export function errorName(api, dispatchError) {
  if (dispatchError.isModule) {
    const { section, name } = api.registry.findMetaError(dispatchError.asModule);
    return `${section}.${name}`;
  }
  if (dispatchError.isToken) return `token.${dispatchError.asToken.type}`;
  if (dispatchError.isArithmetic) return `arithmetic.${dispatchError.asArithmetic.type}`;
  return dispatchError.type;
}

/**
 * Signs and sends `tx`; resolves when its status reaches `stage` ('InBlock' or 'Finalized') with
 * `{ blockHash, events, dispatchError }` (`dispatchError` is null on success).
 */
function signAndWait(tx, signer, stage) {
  return new Promise((resolve, reject) => {
    let unsub = () => {};
    tx.signAndSend(signer, (result) => {
      const { status, events, dispatchError } = result;
      if (status.isInvalid || status.isDropped || status.isUsurped) {
        unsub();
        reject(new Error(`transaction ${status.type}`));
      } else if (status.type === stage) {
        unsub();
        resolve({ blockHash: status.value, events, dispatchError: dispatchError || null });
      }
    }).then((u) => { unsub = u; }, reject);
  });
}

/** Signs and sends `tx`, resolves once its block is finalized (see `signAndWait`). */
export const signAndFinalize = (api, tx, signer) => signAndWait(tx, signer, 'Finalized');

/** Signs and sends `tx`, resolves once it is in a block, not waiting for finality. */
export const signAndInclude = (api, tx, signer) => signAndWait(tx, signer, 'InBlock');

/** The first event `section.method` among a transaction's (or block's) event records, or undefined. */
export const findEvent = (records, section, method) => records
  .find(({ event: e }) => e.section === section && e.method === method)?.event;

/** Signs `tx`, waits for its block and asserts it succeeded; returns its event records. */
export async function expectSuccess(api, tx, signer) {
  const r = await signAndInclude(api, tx, signer);
  assert.equal(r.dispatchError && errorName(api, r.dispatchError), null);
  return r.events;
}

/** Signs `tx`, waits for its block and asserts it failed with the error named `expected`. */
export async function expectFailure(api, tx, signer, expected) {
  const r = await signAndInclude(api, tx, signer);
  assert.ok(r.dispatchError, `expected ${expected}`);
  assert.equal(errorName(api, r.dispatchError), expected);
}

/**
 * Resolves with the first event (in a new block) for which `match(event)` is true, or rejects
 * after `timeoutMs`.
 */
/**
 * The verifiers the shared-node tests use: stash accounts endowed on the dev chain and untouched
 * by the other files. Every committee has at least three verifiers besides the provider, so a
 * result submitted on the shared node needs these three. Bonds each up to the provider minimum
 * and registers it, where not done yet; returns their key pairs.
 */
export const VERIFIER_URIS = ['//Charlie//stash', '//Eve//stash', '//Ferdie//stash'];
export async function ensureVerifiers(api, keyring) {
  const min = (await api.query.stakingGovernance.parameters()).unwrap().minProviderBond.toBigInt();
  const registered = (await api.query.proofOfCompute.verifiers()).map((a) => a.toString());
  const accounts = VERIFIER_URIS.map((uri) => keyring.addFromUri(uri));
  await Promise.all(accounts.map(async (v) => {
    const ledger = await api.query.stakingGovernance.ledgers(v.address);
    const active = ledger.isSome ? ledger.unwrap().active.toBigInt() : 0n;
    if (ledger.isNone) await expectSuccess(api, api.tx.stakingGovernance.bond(min), v);
    else if (active < min) await expectSuccess(api, api.tx.stakingGovernance.bondExtra(min - active), v);
    if (!registered.includes(v.address)) await expectSuccess(api, api.tx.proofOfCompute.registerVerifier(), v);
  }));
  return accounts;
}

export function waitForEvent(api, match, timeoutMs = 120_000) {
  return new Promise((resolve, reject) => {
    let unsub = () => {};
    const timer = setTimeout(() => { unsub(); reject(new Error(`no matching event within ${timeoutMs} ms`)); }, timeoutMs);
    api.query.system.events((records) => {
      const found = records.find(({ event }) => match(event));
      if (found) {
        clearTimeout(timer);
        unsub();
        resolve(found.event);
      }
    }).then((u) => { unsub = u; }, reject);
  });
}

/** The fee the signer paid, from `transactionPayment.TransactionFeePaid`. */
export function feePaid(events) {
  const ev = events.find(({ event }) => event.section === 'transactionPayment' && event.method === 'TransactionFeePaid');
  if (!ev) throw new Error('no TransactionFeePaid event');
  return ev.event.data.actualFee.toBigInt() + ev.event.data.tip.toBigInt();
}

export async function freeBalance(api, address, at) {
  const q = at ? await api.at(at) : api;
  const { data } = await q.query.system.account(address);
  return data.free.toBigInt();
}

/**
 * The text CIDv1 (`bafkrei…`) of `bytes` as Verity names blobs: codec raw (0x55), sha2-256
 * multihash, multibase base32 lower case. The chain parses this form (and the binary one).
 */
export function rawCid(bytes) {
  return cidText(0x55, sha256AsU8a(bytes));
}

/** The text form of a CIDv1 with content codec `codec` (0x55 raw, 0x70 dag-pb) and sha2-256 `digest`. */
export { cidText };

/** The text form of a CID as polkadot.js decodes it from the chain (`{ codec, digest }`). */
export const chainCidText = (cid) => cidText(cid.codec.isRaw ? 0x55 : 0x70, cid.digest.toU8a());

/**
 * The commitment a committee member submits to `proofOfCompute.commit`, as `verity_primitives::
 * commit` specifies it: sha2-256("verity/commit/v1" ‖ round as u64 LE ‖ digest ‖ nonce ‖ account
 * id), hex. `member` is a keyring pair or the 32-byte account id. Checked against
 * tests/vectors/digests.json by digests.test.mjs.
 */
export function commitment(round, digest, nonce, member) {
  const roundLe = new Uint8Array(8);
  new DataView(roundLe.buffer).setBigUint64(0, BigInt(round), true);
  const account = member.publicKey ?? member;
  return u8aToHex(sha256AsU8a(u8aConcat(new TextEncoder().encode('verity/commit/v1'), roundLe, digest, nonce, account)));
}

// The JSON form of the kernel record (verity_primitives::kernel, serde) → polkadot.js's names.
const DTYPES = { f32: 'F32', f16: 'F16', bf16: 'BF16', f64: 'F64', i64: 'I64', i32: 'I32', u8: 'U8' };
const DEVICES = { cpu: 'Cpu', cuda: 'Cuda' };
const tensorArg = (t) => ({ dtype: DTYPES[t.dtype], shape: t.shape });
function ruleArg(rule) {
  switch (rule.kind) {
    case 'exact_digest': return 'ExactDigest';
    case 'quantised_digest': return { QuantisedDigest: { decimals: rule.decimals } };
    case 'numeric_tolerance': return {
      NumericTolerance: { len: rule.len, absTolerance: rule.abs_tolerance, relTolerancePpm: rule.rel_tolerance_ppm },
    };
    default: throw new Error(`unknown aggregation rule ${JSON.stringify(rule)}`);
  }
}

/** A kernel record's parts as `aivmRegistry` calls take them, `supersedes` apart. */
function recordArgs(record) {
  const env = record.environment;
  return [
    record.archive,
    {
      libtorch: env.libtorch,
      device: DEVICES[env.device],
      dtype: DTYPES[env.dtype],
      deterministicAlgorithms: env.deterministic_algorithms,
      tf32Disabled: env.tf32_disabled,
      seed: env.seed,
    },
    record.inputs.map(tensorArg),
    record.outputs.map(tensorArg),
    record.inference_flops,
    record.train_flops,
    ruleArg(record.rule),
  ];
}

/** `aivmRegistry.registerKernel` of a kernel record in its JSON form (a manifest's `record`). */
export function registerKernelTx(api, record) {
  return api.tx.aivmRegistry.registerKernel(...recordArgs(record), record.supersedes);
}

/**
 * `aivmRegistry.registerTrainedKernel`: the record (`verity-worker export`'s) as the version the
 * completed training job `job` produced; the chain sets `supersedes` to the job's kernel and keeps
 * the lineage (job, final checkpoint).
 */
export function registerTrainedKernelTx(api, job, record) {
  return api.tx.aivmRegistry.registerTrainedKernel(job, ...recordArgs(record));
}

/** A kernel directory's manifest (`kernel.json`, as scripts/kernels.py writes it). */
export const readManifest = (dir) => JSON.parse(readFileSync(join(dir, 'kernel.json')));

/**
 * What `verity-worker kernel` says of a kernel directory registered by `owner` (an SS58
 * address): the record as the worker reads it (through the shared Rust type) — `{ id, archive,
 * encoded }`, the chain id (the owner is part of it) and SCALE encoding.
 */
export function workerKernel(dir, owner) {
  const worker = process.env.VERITY_WORKER;
  if (!worker) throw new Error('VERITY_WORKER (the verity-worker binary) is not set');
  return JSON.parse(execFileSync(worker, ['kernel', '--kernel', dir, '--owner', owner], { encoding: 'utf8' }));
}

/**
 * `verity-worker lineage` of kernel version `id` against the node at `ws`: resolves with the
 * lineage it read and checked (`problems` empty when it holds); rejects when it does not.
 */
export async function workerLineage(ws, id, store) {
  const worker = process.env.VERITY_WORKER;
  if (!worker) throw new Error('VERITY_WORKER (the verity-worker binary) is not set');
  const { stdout } = await promisify(execFile)(worker, ['lineage', '--node', ws, '--kernel', id, '--store', store]);
  const line = JSON.parse(stdout.trim().split('\n').pop());
  if (line.event !== 'lineage') throw new Error(`verity-worker lineage printed ${stdout}`);
  return line;
}

/**
 * `verity-worker infer` of a kernel directory on an input file, with its own content store:
 * resolves with `{ output_cid, digest, summary, shape }` (the digest by the kernel's rule).
 */
export async function workerInfer(dir, input, store) {
  const worker = process.env.VERITY_WORKER;
  if (!worker) throw new Error('VERITY_WORKER (the verity-worker binary) is not set');
  const { stdout } = await promisify(execFile)(worker, ['infer', '--kernel', dir, '--input', input, '--store', store]);
  const line = JSON.parse(stdout.trim().split('\n').pop());
  if (line.event !== 'inference') throw new Error(`verity-worker infer printed ${stdout}`);
  return line;
}
