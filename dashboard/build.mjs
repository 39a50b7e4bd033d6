// Bundles the dashboard into dist/: app.js (esbuild, for browsers), index.html, the styles, and
// the page-load benchmark's anchor (anchor.html, anchor.js; bench.mjs).
// Usage: node build.mjs
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist');
mkdirSync(out, { recursive: true });
const common = {
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: ['chrome110', 'firefox110', 'safari16'],
  minify: true,
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
};
await build({ ...common, entryPoints: [join(here, 'src/main.js')], outfile: join(out, 'app.js') });
await build({ ...common, format: 'esm', entryPoints: [join(here, 'src/anchor.js')], outfile: join(out, 'anchor.js') });
writeFileSync(join(out, 'anchor.html'), '<!doctype html><meta charset="utf-8"><title>anchor</title><pre id="page"></pre><script type="module" src="anchor.js"></script>\n');
copyFileSync(join(here, 'index.html'), join(out, 'index.html'));
copyFileSync(join(here, 'style.css'), join(out, 'style.css'));
copyFileSync(join(here, 'node_modules/uplot/dist/uPlot.min.css'), join(out, 'uPlot.min.css'));
