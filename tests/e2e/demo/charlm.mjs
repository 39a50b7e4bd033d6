// Before the paid-inference part of the main job (scripts/demo.sh): Bob registers the char
// transformer's record from its manifest, so his serving daemon can serve it as text
// (`--serve-text`), and puts its archive into that daemon's store. Prints the kernel id.
// Usage: VERITY_WS=ws://… VERITY_CHARLM_DIR=… VERITY_DEMO_OUT=… node demo/charlm.mjs
import { join } from 'node:path';
import { connect, findEvent, readManifest, registerKernelTx, signAndFinalize } from '../lib.mjs';
import { putBlob } from '../providers.mjs';

const dir = process.env.VERITY_CHARLM_DIR;
const { api, keyring } = await connect();
const r = await signAndFinalize(api, registerKernelTx(api, readManifest(dir).record), keyring.addFromUri('//Bob'));
if (r.dispatchError) throw new Error(`registering the char transformer failed: ${r.dispatchError}`);
await putBlob(join(process.env.VERITY_DEMO_OUT, 'store'), join(dir, 'kernel.pt'));
console.log(findEvent(r.events, 'aivmRegistry', 'KernelRegistered').data.kernel.toHex());
await api.disconnect();
process.exit(0);
