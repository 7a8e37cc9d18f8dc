import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ChipRecord, FeatureLayout, Probes, VoltageSet } from '../../src/mitigation/corrector/data.js';
import { joinVoltageBlocks, packVoltageBlock } from '../../src/mitigation/corrector/voltage-block.js';

/** A voltage set of `counts[c]` samples per chip with arbitrary float32 voltages (NaN, -0, subnormals included). */
function makeSet(F: number, counts: number[], floats: () => number): VoltageSet {
  const layout: FeatureLayout = { groups: [], size: F };
  const probes = { cfg: {}, n: 0, x: new Float32Array(), ideal: new Float32Array() } as unknown as Probes;
  const n = counts.reduce((a, b) => a + b, 0);
  const x = Float32Array.from({ length: n * F }, floats);
  const y = Uint8Array.from({ length: n }, (_, i) => i % 10);
  const chipOf = new Int32Array(n);
  const chips: ChipRecord[] = [];
  let start = 0;
  counts.forEach((count, c) => {
    chipOf.fill(c, start, start + count);
    const arr = (len: number) => Float32Array.from({ length: len }, floats);
    chips.push({
      chip: c,
      type: 'random',
      kind: 'stuck-on',
      layers: [c % 3],
      density: c / 10,
      faults: `chip ${c}`,
      start,
      count,
      uncorrected: 0.5,
      transforms: { mean: arr(F), std: arr(F), affine: [arr((F + 1) * F), arr(c % 2)] },
      probeFeats: arr(3 * F),
    } as unknown as ChipRecord);
    start += count;
  });
  return { layout, classes: 10, n, x, y, chipOf, chips, probes };
}

/** The set's chips c0..c1-1 as a set of their own (what a shard generates). */
function slice(set: VoltageSet, c0: number, c1: number): VoltageSet {
  const F = set.layout.size;
  const chips = set.chips.slice(c0, c1);
  const r0 = chips[0]?.start ?? 0;
  const r1 = chips.length ? chips[chips.length - 1].start + chips[chips.length - 1].count : r0;
  return {
    ...set,
    n: r1 - r0,
    x: set.x.slice(r0 * F, r1 * F),
    y: set.y.slice(r0, r1),
    chipOf: set.chipOf.slice(r0, r1).map((c) => c - c0),
    chips: chips.map((c) => ({ ...c, start: c.start - r0 })),
  };
}

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe('voltage blocks', () => {
  it('blocks of any split, packed and joined, are the whole set bit for bit (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 0, max: 8 }), { maxLength: 4 }),
        fc.array(fc.float({ noDefaultInfinity: false }), { minLength: 1, maxLength: 50 }),
        (F, counts, cuts, values) => {
          let i = 0;
          const set = makeSet(F, counts, () => values[i++ % values.length]);
          const edges = [...new Set([0, ...cuts.map((c) => c % (counts.length + 1)), counts.length])].sort((a, b) => a - b);
          const blocks = edges.slice(1).map((e, k) => {
            const { block, bytes } = packVoltageBlock(slice(set, edges[k], e));
            // As read back from a file: a Buffer at some offset of a larger pool.
            const pooled = new Uint8Array(bytes.byteLength + 3);
            pooled.set(bytes, 3);
            return { where: `block ${k}`, block: JSON.parse(JSON.stringify(block)), bytes: pooled.subarray(3) };
          });
          const joined = joinVoltageBlocks(blocks, set.layout, set.classes, set.probes);
          expect(bits(joined.x)).toEqual(bits(set.x));
          expect(joined.y).toEqual(set.y);
          expect(joined.chipOf).toEqual(set.chipOf);
          expect(joined.chips.length).toBe(set.chips.length);
          joined.chips.forEach((c, k) => {
            const o = set.chips[k];
            expect({ ...c, transforms: undefined, probeFeats: undefined }).toEqual({ ...o, transforms: undefined, probeFeats: undefined });
            expect(bits(c.probeFeats)).toEqual(bits(o.probeFeats));
            expect(bits(c.transforms.mean)).toEqual(bits(o.transforms.mean));
            expect(bits(c.transforms.std)).toEqual(bits(o.transforms.std));
            expect(c.transforms.affine.map(bits)).toEqual(o.transforms.affine.map(bits));
          });
        },
      ),
      { numRuns: 60 },
    );
  });

  it('refuses, in one line, bytes that do not match their description', () => {
    const set = makeSet(3, [2, 4], () => 0.25);
    const { block, bytes } = packVoltageBlock(set);
    const join =
      (b: Uint8Array, d = block) =>
      () =>
        joinVoltageBlocks([{ where: 'parts/2', block: d, bytes: b }], set.layout, 10, set.probes);
    expect(join(bytes.subarray(0, bytes.length - 1))).toThrow(/^parts\/2: its voltages are \d+ bytes, not the \d+ it records/);
    expect(join(bytes, { ...block, bytes: block.bytes - 8, chips: block.chips })).toThrow(/parts\/2: its voltages are/);
    expect(join(bytes.subarray(0, bytes.length - 8), { ...block, bytes: block.bytes - 8 })).toThrow(
      /parts\/2: its voltages end before chip 1's/,
    );
    expect(join(bytes, { ...block, features: 4 })).toThrow(/parts\/2: its samples have 4 features, the run's network gives 3/);
  });
});
