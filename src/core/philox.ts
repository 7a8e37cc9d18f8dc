/**
 * Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011; the
 * Random123 reference): a counter-based generator. Block b of a stream is a pure function of
 * (key, counter), so any range of draws can be computed directly, by any thread, in any order: a
 * chip's variation is the same whether it is drawn in JS or in the native addon, on one thread or
 * four, first in a run or last. Passes BigCrush (the paper's Table 2).
 *
 * A stream is named by four 32-bit words: the key (seed, chip) and the counter's upper half (layer,
 * purpose); the counter's lower half (64 bits) is the block index within the stream. Every word is
 * used as given (no hashing), so distinct names never share a block.
 */
export interface PhiloxStream {
  readonly key0: number;
  readonly key1: number;
  readonly ctr2: number;
  readonly ctr3: number;
}

/** The stream of draws `purpose` of layer `layer` of chip `chip` of seed `seed` (each mod 2^32). */
export function philoxStream(seed: number, chip: number, layer: number, purpose: number): PhiloxStream {
  for (const [name, v] of [
    ['seed', seed],
    ['chip', chip],
    ['layer', layer],
    ['purpose', purpose],
  ] as const)
    if (!Number.isFinite(v)) throw new RangeError(`philoxStream: ${name} must be a finite number, got ${v}`);
  // Math.trunc(x) >>> 0: the same reduction as Rng's seed (ToUint32).
  return { key0: Math.trunc(seed) >>> 0, key1: Math.trunc(chip) >>> 0, ctr2: Math.trunc(layer) >>> 0, ctr3: Math.trunc(purpose) >>> 0 };
}

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/**
 * The high 32 bits of the 64-bit product a * m (a, m < 2^32), in doubles: a = ah 2^16 + al, and
 * floor(a m / 2^32) = floor((ah m + floor(al m / 2^16)) / 2^16), every term below 2^53, so exact.
 */
function mulhi(a: number, m: number): number {
  const ah = a >>> 16;
  const al = a & 0xffff;
  return Math.floor((ah * m + Math.floor((al * m) / 65536)) / 65536) >>> 0;
}

/**
 * Block (c0, c1, c2, c3) of key (k0, k1): ten Philox rounds, the key bumped by the Weyl constants
 * between rounds. Writes the four output words into out[o..o+4).
 */
export function philox4x32(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number, out: Uint32Array, o = 0): void {
  for (let r = 0; r < 10; r++) {
    const hi0 = mulhi(c0, M0);
    const lo0 = Math.imul(c0, M0) >>> 0;
    const hi1 = mulhi(c2, M1);
    const lo1 = Math.imul(c2, M1) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  out[o] = c0;
  out[o + 1] = c1;
  out[o + 2] = c2;
  out[o + 3] = c3;
}
