// Inputs of the shared voucher test vectors (see gen-vectors.mjs).
import { blake2AsU8a } from '@polkadot/util-crypto';

/** The genesis hash the vectors are bound to; the pallet's mock uses the same. */
export const GENESIS = new Uint8Array(32).fill(0x42);
export const TREE_SIZES = [1, 2, 3, 5, 8, 13];

/** Hashes of requests 0..n: blake2-256 of the request number as u64 LE (as the Rust tests do). */
export function requests(n) {
  return Array.from({ length: n }, (_, i) => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(i), true);
    return blake2AsU8a(b, 256);
  });
}
