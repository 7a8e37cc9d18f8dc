import { describe, expect, it } from 'vitest';
import { XbarError } from '../../src/core/errors.js';
import { checkFits, faultMapMemory } from '../../src/core/memory.js';
import { availableMemory } from '../../src/core/memory-node.js';
import { compensatedSpec } from '../../src/mitigation/correctnet/compensation.js';
import { chipMemory, specSizes, trainingMemory } from '../../src/nn/memory.js';
import { buildModel } from '../../src/nn/model.js';
import { presets } from '../../src/nn/presets.js';

describe('memory estimates', () => {
  it('count exactly the parameters buildModel allocates, for every preset', () => {
    for (const p of Object.values(presets)) {
      const s = specSizes(p.spec);
      expect(s, p.name).not.toBeNull();
      expect(s?.params, p.name).toBe(buildModel(p.spec, 1).parameterCount);
    }
  });

  it('refuse a 20,000,000-unit dense layer in one line before anything is allocated', () => {
    const spec = { inputShape: [8, 8, 1] as [number, number, number], layers: [{ type: 'dense' as const, units: 20_000_000 }] };
    const need = trainingMemory(spec, 128, 2000);
    expect(need).not.toBeNull();
    let err: unknown;
    try {
      checkFits(need ?? [], { bytes: 16e9, source: 'available' }, 'training', 'use a smaller model');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(XbarError);
    expect((err as Error).message).toMatch(
      /^training needs about \d+\.\d GB of memory \(.*\), more than the 16\.0 GB available: use a smaller model$/,
    );
    // A real network fits easily.
    expect(() => checkFits(trainingMemory(presets.lenet5.spec, 128, 70_000) ?? [], { bytes: 4e9, source: '' }, 't', '')).not.toThrow();
  });

  it('size a defect map by its cells', () => {
    const small = faultMapMemory(64, 64).reduce((a, p) => a + p.bytes, 0);
    const big = faultMapMemory(16384, 16384).reduce((a, p) => a + p.bytes, 0);
    expect(big / small).toBeCloseTo(65536, 0);
    expect(big).toBeGreaterThan(4e9);
  });

  it('reads XBAR_MEMORY_LIMIT as a cap, and refuses a malformed one', () => {
    expect(availableMemory({ XBAR_MEMORY_LIMIT: '2G' })).toEqual({ bytes: 2e9, source: 'allowed by XBAR_MEMORY_LIMIT' });
    expect(availableMemory({ XBAR_MEMORY_LIMIT: '1500M' }).bytes).toBe(1.5e9);
    expect(availableMemory({}).bytes).toBeGreaterThan(0);
    expect(() => availableMemory({ XBAR_MEMORY_LIMIT: 'lots' })).toThrow(/not a size/);
  });

  it('size simulated chips by workers, images and the network, and refuse too many workers for a large network', () => {
    const total = (parts: { bytes: number }[] | null) => (parts ?? []).reduce((a, p) => a + p.bytes, 0);
    const one = total(chipMemory(presets.lenet5.spec, { workers: 1, images: 10_000 }));
    const many = total(chipMemory(presets.lenet5.spec, { workers: 8, images: 10_000 }));
    // Workers each hold a chip and a batch; the images are held once more in shared memory.
    expect(many).toBeGreaterThan(6 * one);
    expect(one).toBeGreaterThan(4 * 10_000 * 28 * 28);
    expect(() =>
      checkFits(chipMemory(presets['mlp-paper'].spec, { workers: 2, images: 10_000 }) ?? [], { bytes: 1e9, source: '' }, 's', ''),
    ).not.toThrow();
    const vgg = presets['vgg-small'];
    expect(() =>
      checkFits(
        chipMemory(vgg.spec, { workers: 256, images: 10_000 }) ?? [],
        { bytes: 2e9, source: 'available' },
        'simulating',
        'use fewer --workers',
      ),
    ).toThrow(/^simulating needs about .* on each of 256 workers .* more than the 2\.0 GB available: use fewer --workers$/);
  });

  it('handles compensation layers', () => {
    for (const [p, kernel] of [
      ['mlp-paper', 1],
      ['lenet5', 3],
    ] as const) {
      const spec = compensatedSpec(presets[p].spec, [
        { layer: 0, rank: 2, kernel },
        { layer: 1, rank: 0 },
      ]);
      expect(specSizes(spec)?.params, p).toBe(buildModel(spec, 1).parameterCount);
    }
  });
});
