import { z } from 'zod';
import { XbarError } from '../../core/errors.js';
import type { ChipRecord, FeatureLayout, Probes, VoltageSet } from './data.js';

/**
 * A block of a corrector's training set (the samples of some of its chips) as bytes and a JSON
 * description, and blocks put back together into one set: what a shard of `xbar correct train
 * --shard K/N` writes and what `xbar merge` trains on. Every number is kept as the float32 (or
 * byte) it was, so the merged set is bit for bit the set one process generates, and the corrector
 * trained on it is the same corrector.
 */

const count = z.number().int().nonnegative();

/** A chip of a block: its record without the arrays, and the lengths of the arrays in the bytes. */
const blockChip = z.object({
  chip: count,
  type: z.string(),
  kind: z.string(),
  layers: z.array(count),
  density: z.number(),
  faults: z.string(),
  count,
  uncorrected: z.number(),
  /** Float32 counts of its transforms' mean, std, each affine matrix, and its probe features. */
  lengths: z.object({ mean: count, std: count, affine: z.array(count), probeFeats: count }),
});

export const voltageBlockSchema = z.object({
  /** Features per sample (the layout's size) and the chips, in index order. */
  features: count,
  chips: z.array(blockChip),
  /** Bytes: every chip's samples (float32, count x features), then its labels (count bytes), then its arrays. */
  bytes: count,
});
export type VoltageBlock = z.infer<typeof voltageBlockSchema>;

const f32 = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** The chips of `set` (a whole set or a shard's) as a description and its bytes, chip after chip. */
export function packVoltageBlock(set: VoltageSet): { block: VoltageBlock; bytes: Uint8Array } {
  const F = set.layout.size;
  const pieces: Uint8Array[] = [];
  const chips = set.chips.map((c) => {
    // Float32 arrays first, the labels last: every float32 starts on a multiple of 4 within its chip.
    const arrays = [
      set.x.subarray(c.start * F, (c.start + c.count) * F),
      c.transforms.mean,
      c.transforms.std,
      ...c.transforms.affine,
      c.probeFeats,
    ];
    pieces.push(...arrays.map(f32), set.y.subarray(c.start, c.start + c.count));
    return {
      chip: c.chip,
      type: c.type,
      kind: c.kind,
      layers: c.layers,
      density: c.density,
      faults: c.faults,
      count: c.count,
      uncorrected: c.uncorrected,
      lengths: {
        mean: c.transforms.mean.length,
        std: c.transforms.std.length,
        affine: c.transforms.affine.map((a) => a.length),
        probeFeats: c.probeFeats.length,
      },
    };
  });
  const bytes = new Uint8Array(pieces.reduce((a, p) => a + p.byteLength, 0));
  let at = 0;
  for (const p of pieces) {
    bytes.set(p, at);
    at += p.byteLength;
  }
  return { block: { features: F, chips, bytes: bytes.byteLength }, bytes };
}

/**
 * Blocks (in chip order) put together into one training set with the run's layout, classes and
 * probe images: sample rows and chip indices follow the blocks' chips in order, as one process
 * generating all of them lays them out. Throws one line naming the block that does not fit.
 */
export function joinVoltageBlocks(
  blocks: { where: string; block: VoltageBlock; bytes: Uint8Array }[],
  layout: FeatureLayout,
  classes: number,
  probes: Probes,
): VoltageSet {
  const F = layout.size;
  const n = blocks.reduce((a, b) => a + b.block.chips.reduce((s, c) => s + c.count, 0), 0);
  const x = new Float32Array(n * F);
  const y = new Uint8Array(n);
  const chipOf = new Int32Array(n);
  const chips: ChipRecord[] = [];
  let row = 0;
  for (const { where, block, bytes } of blocks) {
    if (block.features !== F)
      throw new XbarError(`${where}: its samples have ${block.features} features, the run's network gives ${F}: run the shard again`);
    if (bytes.byteLength !== block.bytes)
      throw new XbarError(`${where}: its voltages are ${bytes.byteLength} bytes, not the ${block.bytes} it records: run the shard again`);
    let at = bytes.byteOffset;
    const take = (len: number): Float32Array => {
      // A copy: the chip's arrays must not alias the file's buffer, nor need its alignment.
      const a = new Float32Array(len);
      new Uint8Array(a.buffer).set(new Uint8Array(bytes.buffer, at, len * 4));
      at += len * 4;
      return a;
    };
    for (const c of block.chips) {
      const floats = c.count * F + c.lengths.mean + c.lengths.std + c.lengths.affine.reduce((a, l) => a + l, 0) + c.lengths.probeFeats;
      if (at + 4 * floats + c.count > bytes.byteOffset + bytes.byteLength)
        throw new XbarError(`${where}: its voltages end before chip ${c.chip}'s: run the shard again`);
      x.set(take(c.count * F), row * F);
      const transforms = { mean: take(c.lengths.mean), std: take(c.lengths.std), affine: c.lengths.affine.map(take) };
      const probeFeats = take(c.lengths.probeFeats);
      y.set(new Uint8Array(bytes.buffer, at, c.count), row);
      at += c.count;
      chipOf.fill(chips.length, row, row + c.count);
      chips.push({
        chip: c.chip,
        type: c.type as ChipRecord['type'],
        kind: c.kind as ChipRecord['kind'],
        layers: c.layers,
        density: c.density,
        faults: c.faults,
        start: row,
        count: c.count,
        uncorrected: c.uncorrected,
        transforms,
        probeFeats,
      });
      row += c.count;
    }
    if (at !== bytes.byteOffset + bytes.byteLength)
      throw new XbarError(`${where}: its voltages hold more bytes than its chips: run the shard again`);
  }
  return { layout, classes, n, x, y, chipOf, chips, probes };
}
