// Serves dist/ over HTTP. Usage: node serve.mjs [PORT] [HOST]   (default 8090, 127.0.0.1)
// As a module: `serve(port, host)` resolves with the listening server.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), 'dist');
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.map': 'application/json' };

export function serve(port = 8090, host = '127.0.0.1') {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    const file = join(root, path === '/' ? 'index.html' : path);
    if (!file.startsWith(root) || req.method !== 'GET') {
      res.writeHead(404).end('not found\n');
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Cache-Control': 'no-cache' }).end(body);
    } catch {
      res.writeHead(404).end('not found\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.argv[2] ?? 8090);
  const host = process.argv[3] ?? '127.0.0.1';
  serve(port, host).then((s) => console.log(`dashboard at http://${host}:${s.address().port}/`), (e) => {
    console.error(`dashboard: cannot listen on ${host}:${port}: ${e.message}`);
    process.exit(1);
  });
}
