import { XbarError } from './errors.js';

/**
 * Peak-memory estimates, checked before long work starts: a run that cannot fit is refused in one
 * line instead of growing to several GB (or being killed) after minutes. Estimates are upper-side
 * approximations of what the code allocates; they only need to be right within a factor of ~2,
 * since the point is to catch requests that are 10x-1000x too big. Pure: the caller supplies the
 * memory available (memory-node.ts reads the machine's). A network's own estimates (training,
 * simulating its chips) are in nn/memory.ts.
 */

export interface MemoryPart {
  what: string;
  bytes: number;
}

export function formatBytes(b: number): string {
  if (b >= 1e9) return `${(b / 1e9).toFixed(1)} GB`;
  if (b >= 1e6) return `${(b / 1e6).toFixed(0)} MB`;
  return `${Math.ceil(b / 1e3)} kB`;
}

/** Throws one line naming the estimate, its largest parts, what is available and `fix`, when the parts do not fit. */
export function checkFits(parts: MemoryPart[], available: { bytes: number; source: string }, action: string, fix: string): void {
  const total = parts.reduce((a, p) => a + p.bytes, 0);
  if (total <= available.bytes) return;
  const largest = [...parts]
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 2)
    .map((p) => `${p.what} ${formatBytes(p.bytes)}`)
    .join(', ');
  throw new XbarError(
    `${action} needs about ${formatBytes(total)} of memory (${largest}), more than the ${formatBytes(available.bytes)} ${available.source}: ${fix}`,
  );
}

/**
 * One defect map of rows x cols cells as `xbar faults` draws it: the map (kind byte and level
 * float per cell), the cell lists the patterns sample from (two int32 per cell, plus a region
 * list of up to 8 bytes per cell), and the picture or JSON text (up to ~2 bytes per cell).
 */
export function faultMapMemory(rows: number, cols: number): MemoryPart[] {
  const cells = rows * cols;
  return [
    { what: `a ${rows}x${cols} defect map`, bytes: 5 * cells },
    { what: 'the cell lists the patterns draw from', bytes: 16 * cells },
    { what: 'the picture or JSON text', bytes: 2 * cells },
  ];
}
