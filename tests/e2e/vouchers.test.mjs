// The shared voucher test vectors (tests/vectors/vouchers.json) still match this JS helper: the
// payloads, channel ids and Merkle trees are rebuilt here and compared, and every signature
// verifies. The pallet's Rust tests verify the same file, so JS and Rust agree byte for byte.
// Needs no node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { hexToU8a, u8aToHex, u8aWrapBytes } from '@polkadot/util';
import { cryptoWaitReady, signatureVerify } from '@polkadot/util-crypto';
import { channelId, merkleProof, merkleRoot, signingPayload, VoucherLog } from './voucher.mjs';
import { GENESIS, requests, TREE_SIZES } from './vectors.mjs';

const vectors = JSON.parse(readFileSync(new URL('../vectors/vouchers.json', import.meta.url)));

test('payloads and channel ids rebuild byte for byte; signatures verify', async () => {
  await cryptoWaitReady();
  assert.equal(vectors.genesis, u8aToHex(GENESIS));
  for (const v of vectors.vouchers) {
    assert.equal(v.channel, u8aToHex(channelId(hexToU8a(v.buyer), hexToU8a(vectors.provider), 0)));
    const payload = signingPayload(GENESIS, {
      channel: hexToU8a(v.channel), cumulative: BigInt(v.cumulative), nonce: v.nonce, requestsRoot: hexToU8a(v.requests_root),
    });
    assert.equal(u8aToHex(payload), v.payload);
    assert.equal(payload.length, 137);
    assert.equal(v.requests_root, u8aToHex(merkleRoot(requests(v.nonce))));
    const signed = v.wrapped ? u8aWrapBytes(payload) : payload;
    const { isValid, crypto } = signatureVerify(signed, v.signature, v.buyer);
    assert.ok(isValid, `${v.scheme} nonce ${v.nonce}`);
    assert.equal(crypto, v.scheme);
  }
});

test('Merkle trees rebuild with the same roots and proofs', () => {
  assert.deepEqual(vectors.merkle.map((t) => t.requests.length), TREE_SIZES);
  for (const tree of vectors.merkle) {
    const reqs = tree.requests.map((r) => hexToU8a(r));
    assert.equal(u8aToHex(merkleRoot(reqs)), tree.root);
    tree.proofs.forEach((proof, i) => assert.deepEqual(merkleProof(reqs, i).map((p) => u8aToHex(p)), proof));
  }
});

test('the incremental root of VoucherLog equals the full tree root for 1..70 requests', () => {
  const reqs = requests(70);
  const log = new VoucherLog(new Uint8Array(32));
  reqs.forEach((r, i) => {
    const v = log.next(r, 1n);
    assert.equal(u8aToHex(v.requestsRoot), u8aToHex(merkleRoot(reqs.slice(0, i + 1))), `n=${i + 1}`);
    assert.equal(v.nonce, i + 1);
  });
});
