import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import {
  countFaults,
  type FaultMap,
  generateFaultMap,
  inRegion,
  type PatternInput,
  type PatternSpec,
  patternSchema,
  regionCells,
  STUCK_AT,
  STUCK_OFF,
  STUCK_ON,
} from '../../src/faults/index.js';

const P = (p: PatternInput): PatternSpec => patternSchema.parse(p);
const draw = (rows: number, cols: number, ps: PatternInput[], seed = 1): FaultMap => generateFaultMap(rows, cols, ps.map(P), new Rng(seed));
const faultyCells = (m: FaultMap) => [...m.kind.keys()].filter((i) => m.kind[i] !== 0);
const dims = fc.record({ rows: fc.integer({ min: 1, max: 70 }), cols: fc.integer({ min: 1, max: 70 }) });

describe('random pattern', () => {
  it('marks exactly round(rate x cells) of each kind (property)', () => {
    fc.assert(
      fc.property(
        dims,
        fc.double({ min: 0, max: 0.3, noNaN: true }),
        fc.double({ min: 0, max: 0.3, noNaN: true }),
        fc.double({ min: 0, max: 0.3, noNaN: true }),
        fc.nat(),
        (d, sa0, sa1, at, seed) => {
          const m = draw(d.rows, d.cols, [{ pattern: 'random', sa0, sa1, stuckAt: at, level: 0.25 }], seed);
          const n = d.rows * d.cols;
          const [, on, off, stuck] = countFaults(m);
          expect(on).toBe(Math.round(sa1 * n));
          expect(off).toBe(Math.round(sa0 * n));
          expect(stuck).toBe(Math.round(at * n));
          for (let i = 0; i < n; i++) expect(m.level[i]).toBe(m.kind[i] === STUCK_AT ? 0.25 : 0);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('spreads faults evenly over the array (no corner bias)', () => {
    const m = draw(128, 128, [{ pattern: 'random', sa1: 0.1 }], 7);
    const quadrant = (r0: number, c0: number) =>
      faultyCells(m).filter((i) => Math.floor(i / 128) >= r0 && Math.floor(i / 128) < r0 + 64 && i % 128 >= c0 && i % 128 < c0 + 64).length;
    for (const q of [quadrant(0, 0), quadrant(0, 64), quadrant(64, 0), quadrant(64, 64)])
      expect(Math.abs(q - 0.1 * 64 * 64)).toBeLessThan(80);
  });

  it('is reproducible from the seed and changes with it', () => {
    const a = draw(64, 32, [{ pattern: 'random', sa0: 0.05, sa1: 0.05 }], 3);
    const b = draw(64, 32, [{ pattern: 'random', sa0: 0.05, sa1: 0.05 }], 3);
    const c = draw(64, 32, [{ pattern: 'random', sa0: 0.05, sa1: 0.05 }], 4);
    expect(a.kind).toEqual(b.kind);
    expect(a.kind).not.toEqual(c.kind);
  });

  it('honours rates that add up to exactly 1, and refuses rates past 1 instead of realising other ones', () => {
    const m = draw(10, 10, [{ pattern: 'random', sa0: 0.4, sa1: 0.6 }]);
    expect(countFaults(m)).toEqual([0, 60, 40, 0]);
    expect(() => P({ pattern: 'random', sa0: 0.6, sa1: 0.6 })).toThrow(/add up to more than 1/);
  });
});

const regionPatterns: PatternInput[] = [
  { pattern: 'circle', radius: 0.3 },
  { pattern: 'circle', cx: 0.2, cy: 0.8, radius: 0.25 },
  { pattern: 'circle-complement', radius: 0.4 },
  { pattern: 'ring', radius: 0.35, width: 0.1 },
  { pattern: 'rows', from: 0.25, to: 0.5 },
  { pattern: 'rows', from: 0, to: 1, every: 4 },
  { pattern: 'columns', from: 0.5, to: 0.75 },
  { pattern: 'checkerboard', block: 2 },
  { pattern: 'checkerboard' },
];

describe('region patterns', () => {
  it('mark exactly round(density x region) cells, all inside the region (property)', () => {
    fc.assert(
      fc.property(
        dims,
        fc.constantFrom(...regionPatterns),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.nat(),
        (d, base, density, seed) => {
          const p = P({ ...base, density, kind: 'stuck-off' } as PatternInput);
          const m = generateFaultMap(d.rows, d.cols, [p], new Rng(seed));
          const region = new Set(regionCells(p, d.rows, d.cols));
          const hit = faultyCells(m);
          expect(hit.length).toBe(Math.round(density * region.size));
          for (const i of hit) {
            expect(region.has(i)).toBe(true);
            expect(m.kind[i]).toBe(STUCK_OFF);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('circle: exactly the cells whose centres are within the radius', () => {
    const m = draw(40, 40, [{ pattern: 'circle', cx: 0.5, cy: 0.5, radius: 0.25 }]);
    for (let r = 0; r < 40; r++)
      for (let c = 0; c < 40; c++) {
        const d = Math.hypot((c + 0.5) / 40 - 0.5, (r + 0.5) / 40 - 0.5);
        expect(m.kind[r * 40 + c] === STUCK_ON).toBe(d <= 0.25);
      }
    // area of a circle of radius 0.25 in the unit square
    expect(Math.abs(faultyCells(m).length / 1600 - Math.PI * 0.0625)).toBeLessThan(0.02);
  });

  it('circle and circle-complement partition the array', () => {
    const a = draw(33, 17, [{ pattern: 'circle', radius: 0.3 }]);
    const b = draw(33, 17, [{ pattern: 'circle-complement', radius: 0.3 }]);
    for (let i = 0; i < 33 * 17; i++) expect((a.kind[i] !== 0) !== (b.kind[i] !== 0)).toBe(true);
  });

  it('ring: a band between radius -+ width/2, with an empty centre', () => {
    const m = draw(64, 64, [{ pattern: 'ring', radius: 0.3, width: 0.1 }]);
    for (const i of faultyCells(m)) {
      const d = Math.hypot(((i % 64) + 0.5) / 64 - 0.5, (Math.floor(i / 64) + 0.5) / 64 - 0.5);
      expect(d).toBeGreaterThanOrEqual(0.25);
      expect(d).toBeLessThanOrEqual(0.35);
    }
    expect(m.kind[32 * 64 + 32]).toBe(0);
    expect(Math.abs(faultyCells(m).length / 4096 - Math.PI * (0.35 ** 2 - 0.25 ** 2))).toBeLessThan(0.02);
  });

  it('rows: whole rows of the band, every n-th; columns likewise', () => {
    const m = draw(20, 10, [{ pattern: 'rows', from: 0.5, to: 1, every: 3 }]);
    const rows = new Set(faultyCells(m).map((i) => Math.floor(i / 10)));
    expect([...rows].sort((a, b) => a - b)).toEqual([10, 13, 16, 19]);
    for (const r of rows) for (let c = 0; c < 10; c++) expect(m.kind[r * 10 + c]).toBe(STUCK_ON);
    const k = draw(10, 20, [{ pattern: 'columns', from: 0, to: 0.25 }]);
    expect([...new Set(faultyCells(k).map((i) => i % 20))].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4]);
  });

  it('checkerboard: cells of one colour of the board, in blocks', () => {
    const m = draw(8, 8, [{ pattern: 'checkerboard', block: 2 }]);
    for (let r = 0; r < 8; r++)
      for (let c = 0; c < 8; c++) expect(m.kind[r * 8 + c] !== 0).toBe((Math.floor(r / 2) + Math.floor(c / 2)) % 2 === 0);
  });

  it('gradients: density rises along the array, within one cell per line, and the mean rate is exact (property)', () => {
    const m = draw(50, 40, [{ pattern: 'column-gradient', min: 0, density: 0.8 }], 5);
    const perCol = Array.from({ length: 40 }, (_, c) => Array.from({ length: 50 }, (_, r) => m.kind[r * 40 + c]).filter(Boolean).length);
    perCol.forEach((n, c) => {
      expect(Math.abs(n - ((0.8 * c) / 39) * 50)).toBeLessThanOrEqual(1);
    });
    fc.assert(
      fc.property(
        dims,
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.boolean(),
        (d, lo, hi, rowsWise) => {
          const p = { pattern: rowsWise ? 'row-gradient' : 'column-gradient', min: lo, density: hi } as PatternInput;
          const lines = rowsWise ? d.rows : d.cols;
          const mean = lines === 1 ? hi : (lo + hi) / 2;
          expect(Math.abs(countFaults(draw(d.rows, d.cols, [p]))[1] - mean * d.rows * d.cols)).toBeLessThanOrEqual(0.5 + 1e-6);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('stuck-at patterns carry their level; later patterns never overwrite earlier faults', () => {
    const m = draw(16, 16, [
      { pattern: 'rows', from: 0, to: 0.5, kind: 'stuck-at', level: 0.3 },
      { pattern: 'random', sa0: 0.5 },
    ]);
    const [none, on, off, at] = countFaults(m);
    expect(at).toBe(128);
    expect(off).toBe(128);
    expect(on + none).toBe(0);
    for (let i = 0; i < 128; i++) expect(m.level[i]).toBeCloseTo(0.3, 6);
  });

  it('a fully covering region at density 1 marks the whole array', () => {
    expect(countFaults(draw(8, 6, [{ pattern: 'circle-complement', radius: 0 }]))[0]).toBe(0);
    expect(inRegion(P({ pattern: 'circle', radius: 2 }), 0, 0, 5, 5)).toBe(true);
  });
});

describe('pattern validation', () => {
  it('rejects impossible parameters', () => {
    expect(() => P({ pattern: 'random', sa0: 1.5 })).toThrow();
    expect(() => P({ pattern: 'circle', density: -0.1 })).toThrow();
    expect(() => P({ pattern: 'rows', every: 0 })).toThrow();
    expect(() => P({ pattern: 'circle', wobble: 1 } as unknown as PatternInput)).toThrow();
  });
});
