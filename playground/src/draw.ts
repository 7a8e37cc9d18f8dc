import { type FaultKindName, formatFaultSpec, parseFaultSpec } from '../../src/browser.js';

/**
 * Mouse gestures on an array's picture -> fault terms in the text form `xbar simulate --faults`
 * takes. Coordinates are relative (u across the columns, v down the rows, 0..1), as the fault
 * patterns are, so one drawing means the same on every array of a layer whatever its size.
 */

export const TOOLS = ['circle', 'ring', 'rows', 'columns', 'checkerboard', 'random'] as const;
export type Tool = (typeof TOOLS)[number];

export interface Brush {
  tool: Tool;
  kind: FaultKindName;
  /** Share of the region's cells that are stuck (for random: of all cells). */
  density: number;
  /** Ring width (relative) and checkerboard block (cells). */
  width: number;
  block: number;
  /** Stuck-at level in Gmin..Gmax. */
  level: number;
}

export const defaultBrush: Brush = { tool: 'circle', kind: 'stuck-on', density: 0.5, width: 0.1, block: 2, level: 0.5 };

const r3 = (x: number) => Math.round(Math.min(2, Math.max(0, x)) * 1000) / 1000;
const clamp01 = (x: number) => Math.min(1, Math.max(0, x));

/**
 * The fault term of a drag from (u0, v0) to (u1, v1) on weighted layer `layer`: a circle or ring
 * centred where the drag starts, through where it ends; a band of rows (columns) between the two
 * heights (widths); a checkerboard or random cells over the whole array (a click is enough).
 * Returns null for a drag too small to mean a region.
 */
export function termFromDrag(b: Brush, layer: number, u0: number, v0: number, u1: number, v1: number): string | null {
  const [a0, b0, a1, b1] = [u0, v0, u1, v1].map(clamp01);
  const common = [`density=${r3(b.density)}`, `kind=${b.kind}`, ...(b.kind === 'stuck-at' ? [`level=${r3(b.level)}`] : [])];
  let body: string;
  switch (b.tool) {
    case 'circle':
    case 'ring': {
      const radius = r3(Math.hypot(a1 - a0, b1 - b0));
      if (radius < 0.02) return null;
      const geo = [`cx=${r3(a0)}`, `cy=${r3(b0)}`, `radius=${radius}`, ...(b.tool === 'ring' ? [`width=${r3(b.width)}`] : [])];
      body = `${b.tool}:${[...geo, ...common].join(',')}`;
      break;
    }
    case 'rows':
    case 'columns': {
      const [lo, hi] = b.tool === 'rows' ? [Math.min(b0, b1), Math.max(b0, b1)] : [Math.min(a0, a1), Math.max(a0, a1)];
      if (hi - lo < 0.01) return null;
      body = `${b.tool}:from=${r3(lo)},to=${r3(hi)},${common.join(',')}`;
      break;
    }
    case 'checkerboard':
      body = `checkerboard:block=${Math.max(1, Math.round(b.block))},${common.join(',')}`;
      break;
    case 'random': {
      const key = b.kind === 'stuck-on' ? 'sa1' : b.kind === 'stuck-off' ? 'sa0' : 'stuckAt';
      body = `random:${key}=${r3(b.density)}${b.kind === 'stuck-at' ? `,level=${r3(b.level)}` : ''}`;
      break;
    }
  }
  const term = `${body}@layers=${layer}`;
  // Through the parser: a term the page makes is one the CLI accepts.
  parseFaultSpec(term);
  return term;
}

/** Splits a spec into its terms (each parses alone); '' has none. */
export function termsOf(spec: string): string[] {
  const text = spec.trim();
  if (!text) return [];
  parseFaultSpec(text);
  return text.split('+').map((t) => t.trim());
}

/** The spec's full text form (every parameter spelled out), as results files record it. */
export const canonical = (spec: string): string => (spec.trim() ? formatFaultSpec(parseFaultSpec(spec.trim())) : '');
