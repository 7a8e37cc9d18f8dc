#!/usr/bin/env node
/**
 * `npm run playground`: serves the built site/ on localhost and prints its URL.
 * Usage: node scripts/serve-site.mjs [--port N] [--dir site]
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { serveStatic } from './static-server.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const dir = resolve(opt('--dir', join(import.meta.dirname, '..', 'site')));
const port = Number(opt('--port', '8080'));
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`xbar: --port ${opt('--port')} is not a port number (0-65535)`);
  process.exit(1);
}
if (!existsSync(join(dir, 'index.html'))) {
  console.error(`xbar: ${dir} holds no built playground: run npm run site first`);
  process.exit(1);
}
try {
  const { url } = await serveStatic(dir, { port });
  console.log(`xbar playground: ${url}  (serving ${dir}; Ctrl-C stops)`);
} catch (e) {
  console.error(`xbar: cannot serve on port ${port} (${e.code ?? e.message}): pass --port N for another port`);
  process.exit(1);
}
