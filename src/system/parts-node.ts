import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';
import { loadKernels } from '../core/kernels-node.js';
import { FASHION_MNIST_DIR } from '../data/node.js';
import { chromiumPath } from '../report/browser.js';

/**
 * The optional parts of a machine that some features (and the tests of those features) need:
 * how to tell whether each is here and the one command that installs it. `xbar doctor` prints
 * this table; the test suite uses the same probes, so a test skips (outside CI) or fails (in CI)
 * for exactly the reason doctor shows.
 */
export interface Part {
  id: PartId;
  /** What it is, in a few words. */
  what: string;
  /** What needs it. */
  for: string;
  /** Whether the suite's tests need it (CI must have it). */
  tested: boolean;
  /** The command that installs it (as root where it is apt-get). */
  install: string;
}

export type PartId = 'native' | 'ngspice' | 'eecircuit' | 'chromium' | 'fashion-mnist' | 'torch' | 'onnx' | 'slurm';

/** Debian's interpreter: the `python3` first on PATH may be another one without Debian's packages. */
export const DEBIAN_PYTHON = '/usr/bin/python3';

export const PARTS: readonly Part[] = [
  {
    id: 'native',
    what: 'native kernels (N-API addon on OpenBLAS)',
    for: 'speed: ~40x faster GEMM than the portable kernels',
    tested: true,
    install: 'apt-get install libopenblas-dev && node scripts/build-native.mjs',
  },
  {
    id: 'ngspice',
    what: 'ngspice',
    for: 'xbar spice (the SPICE cross-check)',
    tested: true,
    install: 'bash scripts/install-system-deps.sh spice',
  },
  {
    id: 'eecircuit',
    what: 'eecircuit-engine (ngspice in WebAssembly)',
    for: 'xbar spice --engine wasm, where ngspice cannot be installed',
    tested: false,
    install: 'npm i eecircuit-engine',
  },
  {
    id: 'chromium',
    what: 'Chromium (headless)',
    for: 'report PNG export and screenshots, the browser tests',
    tested: true,
    install: 'bash scripts/install-system-deps.sh browser',
  },
  {
    id: 'fashion-mnist',
    what: 'Fashion-MNIST',
    for: '--dataset fashion-mnist (vgg-small)',
    tested: true,
    install: 'bash scripts/install-system-deps.sh data',
  },
  {
    id: 'onnx',
    what: 'ONNX checker (python3-onnx)',
    for: 'checking exported ONNX files against the reference checker',
    tested: true,
    install: 'bash scripts/install-system-deps.sh onnx',
  },
  {
    id: 'slurm',
    what: 'Slurm and munge (slurm-wlm), run as root',
    for: 'xbar slurm --submit on this machine (scripts/slurm-local.sh) and the cluster test (test/cluster/)',
    tested: true,
    install: 'bash scripts/install-system-deps.sh slurm (and run as root: the local cluster starts slurmd)',
  },
  {
    id: 'torch',
    what: 'PyTorch peer (python3-torch on OpenBLAS)',
    for: 'the benchmarks (bench/) and the ONNX fixture script',
    tested: false,
    install: 'bash scripts/install-system-deps.sh bench',
  },
];

export interface PartStatus extends Part {
  present: boolean;
  /** What was found (a version, a path) or why not. */
  detail: string;
}

const onPath = (bin: string): string | null => {
  for (const d of (process.env.PATH ?? '').split(delimiter)) if (d && existsSync(join(d, bin))) return join(d, bin);
  return null;
};

function pythonHas(module: string): { ok: boolean; detail: string } {
  if (!existsSync(DEBIAN_PYTHON)) return { ok: false, detail: `no ${DEBIAN_PYTHON}` };
  // Finding the module and reading its version is enough; importing torch takes seconds.
  const code = `import importlib.util as u, importlib.metadata as m\nif u.find_spec('${module}') is None: raise SystemExit(1)\nprint(m.version('${module}'))`;
  const r = spawnSync(DEBIAN_PYTHON, ['-c', code], { encoding: 'utf8', timeout: 60_000 });
  return r.status === 0
    ? { ok: true, detail: `${module} ${r.stdout.trim()}` }
    : { ok: false, detail: `${DEBIAN_PYTHON} cannot import ${module}` };
}

/** Probes one part (each in well under a second). */
export function probe(id: PartId): { ok: boolean; detail: string } {
  switch (id) {
    case 'native': {
      const k = loadKernels();
      return k.name === 'native'
        ? { ok: true, detail: `${k.blas ?? 'BLAS'}, ${k.threads} thread(s)` }
        : { ok: false, detail: 'portable JS kernels in use' };
    }
    case 'ngspice': {
      const bin = process.env.XBAR_NGSPICE ?? 'ngspice';
      const path = bin.includes('/') ? (existsSync(bin) ? bin : null) : onPath(bin);
      if (!path) return { ok: false, detail: bin.includes('/') ? `no ${bin}` : `${bin} not found on PATH` };
      const r = spawnSync(path, ['-v'], { encoding: 'utf8', timeout: 20_000 });
      const version = /ngspice-\S+/.exec(`${r.stdout}${r.stderr}`)?.[0];
      return r.status === 0 || version
        ? { ok: true, detail: `${version ?? 'ngspice'} at ${path}` }
        : { ok: false, detail: `${path} does not run` };
    }
    case 'eecircuit':
      try {
        createRequire(import.meta.url).resolve('eecircuit-engine');
        return { ok: true, detail: 'installed' };
      } catch {
        return { ok: false, detail: 'not installed' };
      }
    case 'chromium': {
      const p = chromiumPath();
      return existsSync(p) ? { ok: true, detail: p } : { ok: false, detail: `no ${p}` };
    }
    case 'fashion-mnist':
      return existsSync(FASHION_MNIST_DIR) ? { ok: true, detail: FASHION_MNIST_DIR } : { ok: false, detail: `no ${FASHION_MNIST_DIR}` };
    case 'onnx':
      return pythonHas('onnx');
    case 'slurm': {
      // Debian puts the daemons in /usr/sbin, often off a user's PATH; the clients in /usr/bin.
      const sbin = (bin: string) => onPath(bin) ?? ['/usr/bin', '/usr/sbin'].map((d) => join(d, bin)).find((p) => existsSync(p)) ?? null;
      const absent = ['sbatch', 'squeue', 'slurmctld', 'slurmd', 'munged', 'mungekey'].filter((b) => !sbin(b));
      if (absent.length) return { ok: false, detail: `${absent.join(', ')} not found` };
      if (process.getuid?.() !== 0) return { ok: false, detail: 'not root: a local slurmd must run as root' };
      const r = spawnSync(sbin('sbatch') as string, ['--version'], { encoding: 'utf8', timeout: 20_000 });
      return { ok: true, detail: r.stdout.trim() || 'sbatch' };
    }
    case 'torch':
      return pythonHas('torch');
  }
}

/** Every part's status, in PARTS order. */
export function probeAll(): PartStatus[] {
  return PARTS.map((p) => {
    const r = probe(p.id);
    return { ...p, present: r.ok, detail: r.detail };
  });
}

export const partById = (id: PartId): Part => PARTS.find((p) => p.id === id) as Part;
