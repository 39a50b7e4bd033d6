// Writes tests/vectors/vouchers.json: vouchers signed here with @polkadot/keyring (sr25519 and
// ed25519, raw and <Bytes>-wrapped) and Merkle trees with all their proofs. The pallet's Rust
// tests verify them (pallets/fee-settlement/src/tests.rs); vouchers.test.mjs checks the file
// still matches this code. Run: node gen-vectors.mjs (from tests/e2e).
import { writeFileSync } from 'node:fs';
import { Keyring } from '@polkadot/keyring';
import { u8aToHex } from '@polkadot/util';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { channelId, merkleProof, merkleRoot, signingPayload, signVoucher } from './voucher.mjs';
import { GENESIS, requests, TREE_SIZES } from './vectors.mjs';

await cryptoWaitReady();
const provider = new Keyring({ type: 'sr25519' }).addFromUri('//Bob');
const buyers = [
  new Keyring({ type: 'sr25519' }).addFromUri('//Alice'),
  new Keyring({ type: 'ed25519' }).addFromUri('//Alice'),
];

const vouchers = [];
for (const buyer of buyers) {
  const channel = channelId(buyer.publicKey, provider.publicKey, 0);
  for (const [nonce, wrapped] of [[1, false], [2, true], [3, false]]) {
    const v = { channel, cumulative: 10n * BigInt(nonce), nonce, requestsRoot: merkleRoot(requests(nonce)) };
    const sig = signVoucher(buyer, GENESIS, v, { wrapped });
    vouchers.push({
      scheme: buyer.type,
      wrapped,
      buyer: u8aToHex(buyer.publicKey),
      channel: u8aToHex(channel),
      cumulative: v.cumulative.toString(),
      nonce,
      requests_root: u8aToHex(v.requestsRoot),
      payload: u8aToHex(signingPayload(GENESIS, v)),
      signature: Object.values(sig)[0],
    });
  }
}

const merkle = TREE_SIZES.map((n) => {
  const reqs = requests(n);
  return {
    requests: reqs.map((r) => u8aToHex(r)),
    root: u8aToHex(merkleRoot(reqs)),
    proofs: reqs.map((_, i) => merkleProof(reqs, i).map((p) => u8aToHex(p))),
  };
});

const out = new URL('../vectors/vouchers.json', import.meta.url);
writeFileSync(out, JSON.stringify({ genesis: u8aToHex(GENESIS), provider: u8aToHex(provider.publicKey), vouchers, merkle }, null, 2) + '\n');
console.log(`wrote ${vouchers.length} vouchers and ${merkle.length} trees to ${out.pathname}`);
