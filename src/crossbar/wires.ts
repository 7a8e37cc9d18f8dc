import { XbarError } from '../core/errors.js';

/**
 * IR drop in one array with resistive wires. Topology (the SPICE netlist uses the same):
 * word line i is driven at its left end, with one wire segment from the driver to cell (i, 0)
 * and one between neighbouring cells, right end open; bit line j is open at the top, with one
 * segment between neighbouring cells and one from the last cell to its TIA, a virtual ground
 * at 0 V. Cell (i, j) joins word-line node (i, j) to bit-line node (i, j).
 *
 * The network is linear, so its effect on a chip is a fixed matrix T: the current into column
 * j's TIA per volt on row i (T = G exactly when the wires are ideal). Computing T once per chip
 * and array keeps inference a plain matrix product. T comes from block Gauss-Seidel on the
 * nodal equations, one right-hand side per driven row: each sweep solves every word line and
 * then every bit line exactly (tridiagonal), which converges because the conductance matrix is
 * symmetric positive definite. Cost per array: O(iterations x rows^2 x cols) time and
 * O(rows^2 x cols) memory; iterations grow with r x G x size^2 (tens for typical r x G).
 */
export interface WireSolve {
  /** Transfer matrix [rows x cols] in siemens, row-major. */
  T: Float64Array;
  iterations: number;
}

export function wireTransfer(g: Float64Array, rows: number, cols: number, rWire: number, tol = 1e-10, maxIter = 20_000): WireSolve {
  if (rWire <= 0) return { T: Float64Array.from(g), iterations: 0 };
  const gw = 1 / rWire;
  const K = rows; // right-hand sides: unit voltage on row k, 0 V on the others
  const RC = rows * cols;
  const a = new Float64Array(K * RC); // word-line node voltages [k][i][j]
  const b = new Float64Array(K * RC); // bit-line node voltages [k][i][j]
  for (let k = 0; k < K; k++) a.fill(1, k * RC + k * cols, k * RC + (k + 1) * cols);

  // The tridiagonal matrices do not change between sweeps: factor them once (Thomas algorithm).
  const wl = factorRows(g, rows, cols, gw);
  const bl = factorCols(g, rows, cols, gw);
  const rhs = new Float64Array(Math.max(rows, cols));
  const out = new Float64Array(Math.max(rows, cols));
  let iterations = 0;
  for (;;) {
    iterations++;
    let change = 0;
    let scale = 0;
    for (let k = 0; k < K; k++) {
      const o = k * RC;
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++) rhs[j] = g[i * cols + j] * b[o + i * cols + j];
        if (i === k) rhs[0] += gw;
        solve(wl, i * cols, cols, rhs, out);
        a.set(out.subarray(0, cols), o + i * cols);
      }
      for (let j = 0; j < cols; j++) {
        for (let i = 0; i < rows; i++) rhs[i] = g[i * cols + j] * a[o + i * cols + j];
        solve(bl, j * rows, rows, rhs, out);
        for (let i = 0; i < rows; i++) {
          const idx = o + i * cols + j;
          change = Math.max(change, Math.abs(out[i] - b[idx]));
          scale = Math.max(scale, Math.abs(out[i]));
          b[idx] = out[i];
        }
      }
    }
    if (change <= tol * Math.max(scale, 1e-30)) break;
    if (iterations >= maxIter)
      throw new XbarError(
        `the IR-drop solver did not converge in ${maxIter} sweeps (wire resistance ${rWire} ohm on a ${rows}x${cols} array): use a smaller wireResistance or array size`,
      );
  }
  const T = new Float64Array(RC);
  for (let k = 0; k < K; k++) for (let j = 0; j < cols; j++) T[k * cols + j] = gw * b[k * RC + (rows - 1) * cols + j];
  return { T, iterations };
}

/** LU factors of many tridiagonal systems with sub/super-diagonal -gw: c' and 1/denominator. */
interface Tridiag {
  cp: Float64Array;
  inv: Float64Array;
  gw: number;
}

function factor(diag: (n: number) => number, start: number, n: number, gw: number, t: Tridiag): void {
  let prev = 0;
  for (let m = 0; m < n; m++) {
    const den = diag(m) - (m > 0 ? -gw * prev : 0);
    t.inv[start + m] = 1 / den;
    prev = -gw / den;
    t.cp[start + m] = prev;
  }
}

function factorRows(g: Float64Array, rows: number, cols: number, gw: number): Tridiag {
  const t: Tridiag = { cp: new Float64Array(rows * cols), inv: new Float64Array(rows * cols), gw };
  for (let i = 0; i < rows; i++) factor((j) => g[i * cols + j] + gw + (j < cols - 1 ? gw : 0), i * cols, cols, gw, t);
  return t;
}

function factorCols(g: Float64Array, rows: number, cols: number, gw: number): Tridiag {
  const t: Tridiag = { cp: new Float64Array(rows * cols), inv: new Float64Array(rows * cols), gw };
  for (let j = 0; j < cols; j++) factor((i) => g[i * cols + j] + gw + (i > 0 ? gw : 0), j * rows, rows, gw, t);
  return t;
}

function solve(t: Tridiag, start: number, n: number, rhs: Float64Array, out: Float64Array): void {
  const { cp, inv, gw } = t;
  let prev = 0;
  for (let m = 0; m < n; m++) {
    prev = (rhs[m] + (m > 0 ? gw * prev : 0)) * inv[start + m];
    out[m] = prev;
  }
  for (let m = n - 2; m >= 0; m--) out[m] -= cp[start + m] * out[m + 1];
}
