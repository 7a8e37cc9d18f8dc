import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import { wireTransfer } from '../../src/crossbar/wires.js';

/** Reference: the full nodal system solved densely (Gaussian elimination), one row driven at a time. */
function denseTransfer(g: Float64Array, rows: number, cols: number, r: number): Float64Array {
  const gw = 1 / r;
  const n = 2 * rows * cols;
  const A = (i: number, j: number) => i * cols + j; // word-line node
  const B = (i: number, j: number) => rows * cols + i * cols + j; // bit-line node
  const T = new Float64Array(rows * cols);
  for (let k = 0; k < rows; k++) {
    const M = Array.from({ length: n }, () => new Float64Array(n + 1));
    const link = (p: number, q: number, c: number) => {
      M[p][p] += c;
      M[q][q] += c;
      M[p][q] -= c;
      M[q][p] -= c;
    };
    for (let i = 0; i < rows; i++)
      for (let j = 0; j < cols; j++) {
        link(A(i, j), B(i, j), g[i * cols + j]);
        if (j + 1 < cols) link(A(i, j), A(i, j + 1), gw);
        if (i + 1 < rows) link(B(i, j), B(i + 1, j), gw);
      }
    for (let i = 0; i < rows; i++) {
      M[A(i, 0)][A(i, 0)] += gw; // driver segment
      if (i === k) M[A(i, 0)][n] += gw; // driver at 1 V
    }
    for (let j = 0; j < cols; j++) M[B(rows - 1, j)][B(rows - 1, j)] += gw; // segment to the TIA at 0 V
    for (let c = 0; c < n; c++) {
      let p = c;
      for (let q = c + 1; q < n; q++) if (Math.abs(M[q][c]) > Math.abs(M[p][c])) p = q;
      [M[c], M[p]] = [M[p], M[c]];
      for (let q = c + 1; q < n; q++) {
        const f = M[q][c] / M[c][c];
        if (f) for (let m = c; m <= n; m++) M[q][m] -= f * M[c][m];
      }
    }
    const x = new Float64Array(n);
    for (let c = n - 1; c >= 0; c--) {
      let s = M[c][n];
      for (let m = c + 1; m < n; m++) s -= M[c][m] * x[m];
      x[c] = s / M[c][c];
    }
    for (let j = 0; j < cols; j++) T[k * cols + j] = gw * x[B(rows - 1, j)];
  }
  return T;
}

const randomG = (rows: number, cols: number, seed: number) => {
  const rng = new Rng(seed);
  return Float64Array.from({ length: rows * cols }, () => 1e-6 + 99e-6 * rng.uniform());
};

describe('IR-drop solver', () => {
  it('matches a dense nodal solve of the same network', () => {
    for (const [rows, cols, r] of [
      [3, 4, 5],
      [7, 5, 50],
      [6, 8, 1000],
    ]) {
      const g = randomG(rows, cols, rows * cols);
      const { T, iterations } = wireTransfer(g, rows, cols, r);
      const ref = denseTransfer(g, rows, cols, r);
      for (let i = 0; i < T.length; i++) expect(Math.abs(T[i] - ref[i])).toBeLessThan(1e-9 * 1e-4 + 1e-6 * Math.abs(ref[i]));
      expect(iterations).toBeGreaterThan(0);
    }
  });

  it('ideal wires give T = G; resistive wires only lose current, more so far from driver and TIA', () => {
    const g = randomG(16, 16, 1).fill(50e-6);
    expect(wireTransfer(g, 16, 16, 0).T).toEqual(g);
    const { T } = wireTransfer(g, 16, 16, 2);
    for (let i = 0; i < T.length; i++) {
      expect(T[i]).toBeLessThan(g[i]);
      expect(T[i]).toBeGreaterThan(0.5 * g[i]);
    }
    // cell (0, 15) is farthest from its driver (column 15) and from its TIA (row 0)
    expect(T[15]).toBeLessThan(T[15 * 16]);
    expect(wireTransfer(g, 16, 16, 0.5).T[15]).toBeGreaterThan(T[15]);
  });

  it('says what to change when it cannot converge', () => {
    expect(() => wireTransfer(randomG(8, 8, 2), 8, 8, 1e6, 1e-10, 3)).toThrow(
      /did not converge in 3 sweeps .* use a smaller wireResistance/,
    );
  });
});
