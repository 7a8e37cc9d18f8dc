// Builds the OpenBLAS addon (build/Release/xbar_blas.node) during `npm install`/`npm ci`.
// Never fails the install: without the addon xbar runs on its portable TypeScript kernels.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const addon = join(root, 'build', 'Release', 'xbar_blas.node');
const FIX = 'apt-get install libopenblas-dev (as root), then: node scripts/build-native.mjs (or npm rebuild xbar)';

function warn(what, detail) {
  const tail = detail ? `\n${detail.trim().split('\n').slice(-12).join('\n')}` : '';
  console.warn(
    `xbar: WARNING: ${what}; xbar will use its portable TypeScript kernels (~40x slower GEMM).${tail}\n` + `xbar: to fix: ${FIX}`,
  );
  process.exit(0);
}

function run(cmd, args, env = {}) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', env: { ...process.env, ...env } });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

const onPath = (bin) => (process.env.PATH ?? '').split(delimiter).some((d) => d && existsSync(join(d, bin)));

// Multiarch distributions (Debian) keep the header and library under a <triplet> directory.
function findIn(bases, file) {
  for (const base of bases) {
    if (existsSync(join(base, file))) return true;
    let subdirs = [];
    try {
      subdirs = readdirSync(base, { withFileTypes: true }).filter((d) => d.isDirectory());
    } catch {}
    if (subdirs.some((d) => existsSync(join(base, d.name, file)))) return true;
  }
  return false;
}

const haveBlas = () =>
  findIn(['/usr/include', '/usr/local/include', '/usr/include/openblas'], 'cblas.h') &&
  findIn(['/usr/lib', '/usr/lib64', '/usr/local/lib'], 'libopenblas.so');

function installBlas() {
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  const args = ['install', '-y', '--no-install-recommends', 'libopenblas-dev'];
  console.log('xbar: installing libopenblas-dev with apt-get (set XBAR_NO_APT=1 to skip)');
  let r = run('apt-get', args, env);
  if (!r.ok) {
    // A fresh image usually has no package lists yet; refresh only when needed, it is slow.
    const u = run('apt-get', ['update'], env);
    r = u.ok ? run('apt-get', args, env) : u;
  }
  if (!r.ok) warn('apt-get install libopenblas-dev failed', r.out);
}

// npm puts node-gyp on PATH for lifecycle scripts; run by hand, use the copy bundled with npm.
function nodeGyp() {
  if (onPath('node-gyp')) return ['node-gyp', []];
  const npmCli = process.env.npm_execpath ?? join(dirname(process.execPath), '../lib/node_modules/npm/bin/npm-cli.js');
  const bundled = join(dirname(npmCli), '../node_modules/node-gyp/bin/node-gyp.js');
  if (existsSync(bundled)) return [process.execPath, [bundled]];
  return ['npx', ['--yes', 'node-gyp']];
}

try {
  if (!haveBlas()) {
    const canApt = process.getuid?.() === 0 && onPath('apt-get') && !process.env.XBAR_NO_APT;
    if (!canApt) warn('OpenBLAS development files (cblas.h, libopenblas.so) not found');
    installBlas();
  }
  const [cmd, pre] = nodeGyp();
  // Outside npm, node-gyp would download Node headers; use the installed ones when present.
  const nodedir = resolve(dirname(process.execPath), '..');
  const local = !process.env.npm_config_nodedir && existsSync(join(nodedir, 'include/node/node_api.h'));
  const r = run(cmd, [...pre, 'rebuild', ...(local ? [`--nodedir=${nodedir}`] : [])]);
  if (!r.ok) warn('building the native addon with node-gyp failed', r.out);
  // Load it in a child first: a broken BLAS should fail here, not crash xbar later.
  const smoke =
    `const x=require(${JSON.stringify(addon)});const c=new Float32Array(1);` +
    'x.sgemm(false,false,1,1,1,1,new Float32Array([2]),1,new Float32Array([3]),1,0,c,1);' +
    'if(c[0]!==6)throw new Error("sgemm gave "+c[0]);';
  const s = run(process.execPath, ['-e', smoke]);
  if (!s.ok) {
    rmSync(addon, { force: true });
    warn('the native addon built but failed its self-test', s.out);
  }
  console.log('xbar: built native OpenBLAS kernels (build/Release/xbar_blas.node)');
} catch (e) {
  warn('building the native addon failed', String(e?.stack ?? e));
}
