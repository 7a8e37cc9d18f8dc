/** Deterministic inputs without depending on the project RNG: a small LCG in [-1, 1). */
export function filled(len: number, seed: number): Float32Array {
  const x = new Float32Array(len);
  let s = seed >>> 0;
  for (let i = 0; i < len; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = s / 2 ** 31 - 1;
  }
  return x;
}
