import { freemem } from 'node:os';
import { XbarError } from './errors.js';

/**
 * The memory a run may plan to use: what the machine has available now (os.freemem reads Linux's
 * MemAvailable, which counts reclaimable cache), under a cgroup limit if any, and under
 * XBAR_MEMORY_LIMIT (bytes, or with a k/M/G suffix) when set: on a shared machine, or to test.
 */
export function availableMemory(env: NodeJS.ProcessEnv = process.env): { bytes: number; source: string } {
  let best = { bytes: freemem(), source: 'available on this machine' };
  const cgroup = process.constrainedMemory?.() ?? 0;
  if (cgroup > 0 && cgroup < best.bytes) best = { bytes: cgroup, source: "in this process's memory limit" };
  const text = env.XBAR_MEMORY_LIMIT;
  if (text !== undefined && text !== '') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([kMG]?)B?\s*$/i.exec(text);
    if (!m) throw new XbarError(`XBAR_MEMORY_LIMIT='${text}' is not a size: write bytes, or a number with k, M or G (e.g. 4G)`);
    const unit = { '': 1, k: 1e3, m: 1e6, g: 1e9 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
    const bytes = Number(m[1]) * unit;
    if (bytes < best.bytes) best = { bytes, source: 'allowed by XBAR_MEMORY_LIMIT' };
  }
  return best;
}
