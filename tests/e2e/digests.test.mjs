// The JS commitment helper (lib.mjs) against the shared digest vectors
// (tests/vectors/digests.json, written by scripts/gen-digest-vectors.py): the same bytes the
// proof-of-compute pallet and verity-worker compute (both check the same file). Needs no node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { hexToU8a } from '@polkadot/util';
import { commitment } from './lib.mjs';

const vectors = JSON.parse(readFileSync(new URL('../vectors/digests.json', import.meta.url)));

test('commitments rebuild byte for byte', () => {
  assert.ok(vectors.commitments.length >= 8);
  for (const c of vectors.commitments) {
    const got = commitment(BigInt(c.round), hexToU8a(c.digest), hexToU8a(c.nonce), hexToU8a(c.member));
    assert.equal(got, c.commitment, `round ${c.round}`);
  }
});
