// Running the Python peers (PyTorch, NumPy) that the benches compare xbar against.
import { spawnSync } from 'node:child_process';

// Debian's interpreter: the `python3` on PATH may be another one without torch.
export const PYTHON = '/usr/bin/python3';
export const PEER_FIX = 'apt-get install python3-torch python3-numpy libopenblas0-pthread';

/** True if the Debian package is installed (false too when dpkg is missing). */
export function debInstalled(pkg) {
  const r = spawnSync('dpkg', ['-s', pkg], { encoding: 'utf8' });
  return r.status === 0 && /^Status: install ok installed$/m.test(r.stdout);
}

/**
 * Runs `python3 script ...args`, which must print one JSON object as its last stdout line.
 * Returns that object, or { error } with the reason; never throws.
 */
export function runPeer(script, args = [], { timeoutMs = 600_000 } = {}) {
  const r = spawnSync(PYTHON, [script, ...args], { encoding: 'utf8', timeout: timeoutMs });
  if (r.error) return { error: `${PYTHON}: ${r.error.message}` };
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(last);
  } catch {
    return { error: `${script} exited ${r.status}: ${(r.stderr || r.stdout).trim().split('\n').at(-1)}` };
  }
}

/** One line saying which BLAS the peer loaded, with a fix when it is not OpenBLAS. */
export function describeBlas(blas) {
  if (!blas) return 'unknown';
  const threads = blas.threads ? `, ${blas.threads} threads` : '';
  const hint = blas.kind === 'OpenBLAS' ? '' : ` -- for a fair comparison: ${PEER_FIX}`;
  return `${blas.kind}${threads} (${blas.paths.find((p) => p.includes('openblas')) ?? blas.paths[0] ?? 'no library'})${hint}`;
}
