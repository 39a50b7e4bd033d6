// The record the chain stores is the record in the kernel's manifest, byte for byte: each kernel
// scripts/kernels.py exported (VERITY_KERNELS, set by scripts/e2e.sh) is registered from its
// kernel.json with the lib.mjs helper the main job uses, and what the chain stores (its SCALE
// encoding and id) is compared with what verity-worker reads from the same manifest.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  connect, expectFailure, expectSuccess, findEvent, readManifest, registerKernelTx, workerKernel,
} from './lib.mjs';

let api;
let bob;
let charlie;

before(async () => {
  const c = await connect();
  api = c.api;
  bob = c.keyring.addFromUri('//Bob');
  charlie = c.keyring.addFromUri('//Charlie');
});

after(async () => {
  await api?.disconnect();
});

const kernels = process.env.VERITY_KERNELS;

test('every exported kernel is registered exactly as its manifest says', { skip: !kernels && 'VERITY_KERNELS not set' }, async () => {
  for (const name of ['digits', 'charlm']) {
    const dir = join(kernels, name);
    const { record } = readManifest(dir);
    const worker = workerKernel(dir, bob.address);
    assert.equal(worker.archive, record.archive);
    const events = await expectSuccess(api, registerKernelTx(api, record), bob);
    const registered = findEvent(events, 'aivmRegistry', 'KernelRegistered');
    assert.equal(registered.data.kernel.toHex(), worker.id, `${name}: the chain's id is the worker's`);
    const stored = (await api.query.aivmRegistry.kernels(worker.id)).unwrap();
    assert.equal(stored.spec.toHex(), worker.encoded, `${name}: the stored record is the manifest's`);
    assert.equal(stored.spec.environment.seed.toNumber(), record.environment.seed);
    assert.equal(stored.spec.inferenceFlops.toNumber(), record.inference_flops);
    assert.equal(stored.spec.rule.isQuantisedDigest, record.rule.kind === 'quantised_digest');
    // The same record again is the same kernel: refused, not a second copy.
    await expectFailure(api, registerKernelTx(api, record), bob, 'aivmRegistry.KernelExists');
    // Someone else's copy (a front-run from the pool) is a kernel of its own: the owner is part
    // of the id, so Bob's id cannot be squatted (security review finding 16).
    const copy = findEvent(await expectSuccess(api, registerKernelTx(api, record), charlie), 'aivmRegistry', 'KernelRegistered');
    assert.equal(copy.data.kernel.toHex(), workerKernel(dir, charlie.address).id);
    assert.notEqual(copy.data.kernel.toHex(), worker.id);
    assert.equal((await api.query.aivmRegistry.kernels(worker.id)).unwrap().owner.toString(), bob.address);
  }
});
