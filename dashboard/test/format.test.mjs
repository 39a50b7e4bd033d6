// Unit tests of the dashboard's formatting (no node, no browser): balances in the token, CIDs in
// the text form `ipfs` prints, multiaddrs as libp2p writes them, HTML escaped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { base58Encode } from '@polkadot/util-crypto';
import { balance, cidText, esc, multiaddr, num, token } from '../src/format.js';

const text = (html) => html.replace(/<[^>]*>/g, '');
const raw = (html) => /data-raw="([^"]*)"/.exec(html)[1];

test('balances show four decimals, or three significant digits below one token, and keep the exact value', () => {
  Object.assign(token, { symbol: 'VER', decimals: 12 });
  const cases = [
    [0n, '0 VER'],
    [10n ** 12n, '1 VER'],
    [1_234_567_891_234_567n, '1,234.5678 VER'],
    [100_000n * 10n ** 12n, '100,000 VER'],
    [12_000_000_000n, '0.012 VER'],
    [127_000_000n, '0.000127 VER'],
    [63_500_000n, '0.0000635 VER'],
    [228n, '0.000000000228 VER'],
    [1n, '0.000000000001 VER'],
    [-5n * 10n ** 11n, '-0.5 VER'],
  ];
  for (const [value, shown] of cases) {
    const html = balance(value);
    assert.equal(text(html), shown, `${value}`);
    assert.equal(raw(html), value.toString());
  }
  // Any object with toString (a polkadot.js u128) works, beyond 2^53 exactly.
  assert.equal(raw(balance({ toString: () => '340282366920938463463374607431768211455' })), '340282366920938463463374607431768211455');
  assert.equal(text(num(1234567n)), '1,234,567');
});

test('a CID is written as ipfs prints it', () => {
  // `echo -n hello | ipfs add --cid-version 1 --raw-leaves` (primitives/src/cid.rs has the same).
  const digest = createHash('sha256').update('hello').digest();
  assert.equal(cidText(0x55, digest), 'bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq');
  assert.ok(cidText(0x70, digest).startsWith('bafybei'), 'dag-pb');
});

test('multiaddrs read as libp2p writes them; anything else as hex', () => {
  const tcp = new Uint8Array([0x04, 127, 0, 0, 1, 0x06, 0xa3, 0xb5]);
  assert.equal(multiaddr(tcp, base58Encode), '/ip4/127.0.0.1/tcp/41909');
  // /ip4/10.1.2.3/udp/9000/quic-v1/p2p/<peer>: udp and quic-v1 take two-byte varint codes.
  const peer = new Uint8Array([0x00, 0x24, 0x08, 0x01, 0x12, 0x20, ...new Uint8Array(32).fill(7)]);
  const quic = new Uint8Array([0x04, 10, 1, 2, 3, 0x91, 0x02, 0x23, 0x28, 0xcc, 0x03, 0xa5, 0x03, peer.length, ...peer]);
  assert.equal(multiaddr(quic, base58Encode), `/ip4/10.1.2.3/udp/9000/quic-v1/p2p/${base58Encode(peer)}`);
  const dns = new Uint8Array([0x36, 11, ...new TextEncoder().encode('example.org'), 0x06, 0x75, 0x30]);
  assert.equal(multiaddr(dns, base58Encode), '/dns4/example.org/tcp/30000');
  assert.equal(multiaddr(new Uint8Array([0x7f, 1, 2]), base58Encode), '0x7f0102', 'an unknown protocol');
  assert.equal(multiaddr(new Uint8Array([0x04, 127, 0]), base58Encode), '0x047f00', 'a truncated address');
  assert.equal(multiaddr(new Uint8Array([0x36, 20, 0x61]), base58Encode), '0x361461', 'a name longer than the bytes left');
});

test('text put into pages is escaped', () => {
  assert.equal(esc('<script>"&'), '&lt;script&gt;&quot;&amp;');
});
