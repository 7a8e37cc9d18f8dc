import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { XbarError } from '../../src/core/errors.js';
import { loadKernels } from '../../src/core/kernels-node.js';
import { programChip } from '../../src/crossbar/chip.js';
import { type CircuitInput, resolveCircuit } from '../../src/crossbar/circuit.js';
import { type CrossbarPlan, planCrossbars } from '../../src/crossbar/plan.js';
import { simulateBatch } from '../../src/crossbar/simulate.js';
import { take } from '../../src/data/index.js';
import { loadDataset } from '../../src/data/node.js';
import { resolveDevice } from '../../src/device/config.js';
import { parseFaultSpec } from '../../src/faults/index.js';
import { saveModel } from '../../src/nn/io-node.js';
import { buildModel, type Model } from '../../src/nn/model.js';
import { presets } from '../../src/nn/presets.js';
import { parseModelSpec } from '../../src/nn/spec.js';
import { train } from '../../src/nn/train.js';
import { compareWithSpice } from '../../src/spice/compare.js';
import { selectEngine } from '../../src/spice/engine.js';
import { buildNetlist, netlistText } from '../../src/spice/netlist.js';
import { runNetlist } from '../../src/spice/run.js';
import { describeWith, itWith, missing } from '../optional.js';

// The SPICE tests need native ngspice (npm ci installs it as root; elsewhere test/optional.ts skips them).
const kernels = loadKernels();
const digits = loadDataset('digits8', { limitTrain: 2000, limitTest: 40 });
const model = buildModel(presets['mlp-paper'].spec, 1);
train(model, digits.train, null, { epochs: 4, batchSize: 32, optimizer: { name: 'adam', lr: 0.01 }, schedule: 'cosine', seed: 2 }, kernels);
const plan = (c: CircuitInput = {}, m: Model = model): CrossbarPlan =>
  planCrossbars(m, resolveCircuit(c), digits.train.x.subarray(0, 500 * 64), 500, kernels);
const device = resolveDevice('reram-generic'); // sigma 0.1: every chip is different
const faults = parseFaultSpec('random:sa0=0.02,sa1=0.04+[ring:radius=0.3,kind=stuck-off@layers=0]');
const engine = missing('ngspice') ? (null as never) : await selectEngine('native');
const work = mkdtempSync(join(tmpdir(), 'xbar-spice-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describeWith(['ngspice'], 'behavioural model vs ngspice', () => {
  it('ideal parts: outputs agree within 0.1% and every prediction matches, on defective chips', async () => {
    for (let c = 0; c < 3; c++) expect(programChip(plan(), device, faults, 7, c).layers[0].faultyCells).toBeGreaterThan(20);
    for (const opampGain of [Number.POSITIVE_INFINITY, 1e6]) {
      const r = await compareWithSpice(model, plan(), device, faults, digits.test, { chips: 3, seed: 7, opampGain }, engine, kernels);
      expect(r.chips.every((c) => c.failures.length === 0)).toBe(true);
      expect(r.summary.maxRelError).toBeLessThan(1e-3);
      expect(r.summary.agreement).toBe(1);
      expect(r.summary.spiceAccuracy).toBe(r.summary.behaviouralAccuracy);
    }
  });

  it('tiled arrays with wire resistance: the IR-drop model agrees, the ideal-wire model does not', async () => {
    const test = take(digits.test, 8);
    const p = plan({ arrayRows: 16, arrayCols: 16, wireResistance: 2 });
    expect(p.layers[0].tiles.length).toBe(5);
    const cfg = { chips: 1, seed: 3, opampGain: 1e6 };
    const wired = await compareWithSpice(model, p, device, faults, test, cfg, engine, kernels);
    expect(wired.summary.maxRelError).toBeLessThan(1e-3);
    expect(wired.summary.agreement).toBe(1);
    const ideal = await compareWithSpice(
      model,
      p,
      device,
      faults,
      test,
      { ...cfg, modelPlan: plan({ arrayRows: 16, arrayCols: 16 }) },
      engine,
      kernels,
    );
    expect(ideal.summary.maxRelError).toBeGreaterThan(10 * wired.summary.maxRelError);
  });

  it('every mapping scheme (reference column, pairs split or bit-sliced, several cells), tiled, with and without wires', async () => {
    const test = take(digits.test, 6);
    for (const c of [
      { mapping: 'reference' },
      { cellsPerWeight: 2 },
      { cellsPerWeight: 2, sliceBits: 4, wireResistance: 2 },
      { mapping: 'reference', cellsPerWeight: 3, wireResistance: 2 },
    ] as CircuitInput[]) {
      const p = plan({ arrayRows: 16, arrayCols: 16, ...c });
      const r = await compareWithSpice(model, p, device, faults, test, { chips: 1, seed: 4, opampGain: 1e6 }, engine, kernels);
      expect(r.summary.maxRelError).toBeLessThan(1e-3);
      expect(r.summary.agreement).toBe(1);
      // Every physical cell is in the netlist: 2N per weight, or N plus a reference column per array.
      const cells = p.layers.reduce(
        (a, lp) =>
          a +
          lp.tiles.reduce(
            (b, t) =>
              b +
              (t.r1 - t.r0) *
                ((c.mapping === 'reference' ? 1 : 2) * (c.cellsPerWeight ?? 1) * (t.c1 - t.c0) + (c.mapping === 'reference' ? 1 : 0)),
            0,
          ),
        0,
      );
      expect(r.netlist.cells).toBe(cells);
    }
  });

  it('ADCs with static offsets and gain errors per row tile: the netlist converts each partial sum as the model does', async () => {
    const test = take(digits.test, 6);
    for (const c of [
      { adcBits: 8, adcOffset: 1.5, adcGainError: 0.03 },
      { adcBits: 6, adcOffset: 3, mapping: 'reference', cellsPerWeight: 2 },
    ] as CircuitInput[]) {
      const p = plan({ arrayRows: 16, arrayCols: 16, ...c });
      expect(p.layers[0].rowTiles.length).toBe(5);
      const chip = programChip(p, device, faults, 4, 0);
      expect(chip.layers[0].adc?.offset.some((o) => Math.abs(o) > 0)).toBe(true);
      const r = await compareWithSpice(model, p, device, faults, test, { chips: 1, seed: 4, opampGain: 1e6 }, engine, kernels);
      expect(r.summary.maxRelError).toBeLessThan(1e-3);
      expect(r.summary.agreement).toBe(1);
      // The offsets matter: the same chip without them answers differently by far more than 0.1%.
      const out = (layers: typeof chip.layers) => simulateBatch(model, p, layers, device, test.x, test.n, { kernels, rng: null }).data;
      const a = out(chip.layers);
      const b = out(chip.layers.map((l) => ({ ...l, adc: undefined })));
      const scale = Math.max(...a.map(Math.abs));
      expect(Math.max(...a.map((v, i) => Math.abs(v - b[i]))) / scale).toBeGreaterThan(1e-2);
    }
  });

  it('every activation (tanh, sigmoid, crelu), per-column scaling and no saturation', async () => {
    const spec = {
      inputShape: [8, 8, 1],
      layers: [
        { type: 'flatten' },
        { type: 'dense', units: 8 },
        { type: 'activation', fn: 'tanh' },
        { type: 'dense', units: 8 },
        { type: 'activation', fn: 'sigmoid' },
        { type: 'dense', units: 8 },
        { type: 'activation', fn: 'crelu', cap: 1 },
        { type: 'dense', units: 10 },
      ],
    };
    const m = buildModel(parseModelSpec(spec, 'test spec'), 4);
    const test = take(digits.test, 10);
    for (const c of [{ scaling: 'column' }, { saturate: false }] as CircuitInput[]) {
      const r = await compareWithSpice(m, plan(c, m), device, faults, test, { chips: 1, seed: 2, opampGain: 1e6 }, engine, kernels);
      expect(r.summary.maxRelError).toBeLessThan(1e-3);
      expect(r.summary.agreement).toBe(1);
    }
  });

  it('a convergence failure is reported for its image, and the other images still run', async () => {
    const p = plan();
    const chip = programChip(p, device, [], 1, 0);
    const x = digits.test.x.subarray(0, 5 * 64);
    // A node with no DC solution at image 2 only: i(v) = v^2 + 1e-3 (0.25 - (img - 2)^2) has no root there.
    const trap = 'B_TRAP 0 trap I = v(trap) * v(trap) + 1e-3 * (0.25 - (v(img) - 2) * (v(img) - 2))';
    const ok = await runNetlist(engine, buildNetlist(model, p, chip.layers, device, x, 5, { opampGain: 1e6 }));
    const bad = await runNetlist(engine, buildNetlist(model, p, chip.layers, device, x, 5, { opampGain: 1e6, extra: [trap] }));
    expect(ok.failures).toEqual([]);
    expect(bad.failures.map((f) => f.image)).toEqual([2]);
    expect(bad.failures[0].message).toMatch(/trouble with node|too small|failed/i);
    expect(bad.runs).toBe(2);
    for (let i = 0; i < 50; i++) {
      if (i >= 20 && i < 30) expect(bad.volts[i]).toBeNaN();
      else expect(bad.volts[i]).toBeCloseTo(ok.volts[i], 9);
    }
  });
});

describe('netlist', () => {
  it('is deterministic, names layers, rows and columns, and holds every programmed cell', () => {
    const p = plan();
    const chip = programChip(p, device, faults, 1, 0);
    const x = digits.test.x.subarray(0, 3 * 64);
    const a = buildNetlist(model, p, chip.layers, device, x, 3, { opampGain: 1e6 });
    const b = buildNetlist(model, p, chip.layers, device, x, 3, { opampGain: 1e6 });
    expect(netlistText(a)).toBe(netlistText(b));
    expect(a.counts).toEqual({ cells: 2 * (65 * 8 + 9 * 8 + 9 * 8 + 9 * 10), wires: 0, arrays: 4, opamps: 16 + 16 + 16 + 20 });
    const text = netlistText(a);
    expect(text).toContain('* ===== Layer 0 (model layer 1): dense 64 -> 8, relu');
    expect(text).toContain('* row 64 (bias)');
    expect(text).toMatch(/^\.dc V_IMG 0 2 1$/m);
    // A stuck cell appears with its stuck conductance: 1/R of cell (row 0, column 0, G+) is the programmed value.
    const r = Number(/^R_L0_T0_0_0P \S+ \S+ (\S+)$/m.exec(text)?.[1]);
    expect(1 / r).toBeCloseTo(chip.layers[0].gPos[0], 12);
  });

  it('refuses what it cannot model, with the fix in the message', () => {
    const conv = buildModel(presets.lenet5.spec, 1);
    const mnist = loadDataset('mnist', { limitTrain: 50, limitTest: 1 });
    const cp = planCrossbars(conv, resolveCircuit({}), mnist.train.x, 50, kernels);
    const chip = programChip(cp, device, [], 1, 0);
    expect(() => buildNetlist(conv, cp, chip.layers, device, mnist.test.x, 1, { opampGain: 1e6 })).toThrow(/dense \(MLP\) models only/);
    for (const [c, fix] of [
      [{ dacBits: 6 }, /--dac-bits 0/],
      [{ adcBits: 6, adcNoise: 0.5 }, /per conversion .* --adc-noise 0/],
    ] as const) {
      const p = plan(c);
      expect(() => buildNetlist(model, p, programChip(p, device, [], 1, 0).layers, device, digits.test.x, 40, { opampGain: 1e6 })).toThrow(
        fix,
      );
    }
  });
});

describe('engines', () => {
  it('a missing engine is a clear error naming how to install one', async () => {
    const none = { ngspice: '/nonexistent/ngspice', importWasm: () => Promise.reject(new Error('not installed')) };
    await expect(selectEngine('auto', none)).rejects.toThrow(XbarError);
    await expect(selectEngine('auto', none)).rejects.toThrow(/install it with npm i eecircuit-engine or apt-get install ngspice/);
    await expect(selectEngine('native', none)).rejects.toThrow(/apt-get install ngspice/);
    await expect(selectEngine('wasm', none)).rejects.toThrow(/npm i eecircuit-engine/);
  });

  itWith(['ngspice'], 'the WebAssembly adapter reads eecircuit-engine results (stand-in module backed by ngspice)', async () => {
    class Simulation {
      private deck = '';
      async start() {}
      setNetList(d: string) {
        this.deck = d;
      }
      async runSim() {
        const r = await engine.run(this.deck);
        return { data: [...r.vectors].map(([name, v]) => ({ name: name.toUpperCase(), type: 'voltage', values: Array.from(v) })) };
      }
    }
    const wasm = await selectEngine('wasm', { importWasm: async () => ({ Simulation }) });
    expect(wasm.name).toBe('wasm');
    const test = take(digits.test, 5);
    const r = await compareWithSpice(model, plan(), device, faults, test, { chips: 1, seed: 1, opampGain: 1e6 }, wasm, kernels);
    expect(r.summary.maxRelError).toBeLessThan(1e-3);
  });
});

describe('xbar spice (CLI)', () => {
  const bin = resolve(import.meta.dirname, '../../dist/cli/main.js');
  const xbar = (args: string[], env: Record<string, string> = {}) => {
    const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, ...env, FORCE_COLOR: '0' } });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const dir = join(work, 'paper');
  saveModel(dir, model, { dataset: 'digits8' });

  itWith(['ngspice'], 'export writes a netlist ngspice runs; compare reports agreement and timing', () => {
    const cir = join(work, 'chip.cir');
    const e = xbar(['spice', 'export', '-m', dir, '--images', '4', '--faults', 'random:sa1=0.05', '-o', cir]);
    expect(e.code, e.err).toBe(0);
    expect(e.out).toContain('ngspice -b -r out.raw');
    expect(readFileSync(cir, 'utf8')).toMatch(/^\.dc V_IMG 0 3 1$/m);
    const out = join(work, 'cmp');
    const c = xbar(['spice', 'compare', '-m', dir, '--chips', '2', '--images', '10', '--faults', 'random:sa1=0.05', '--json', '-o', out]);
    expect(c.code, c.err).toBe(0);
    const r = JSON.parse(c.out);
    expect(r.format).toBe('xbar-spice-compare');
    expect(r.summary.agreement).toBe(1);
    expect(r.summary.maxRelError).toBeLessThan(1e-3);
    expect(r.summary.spiceSecondsPerImage).toBeGreaterThan(0);
    expect(existsSync(join(out, 'netlists', 'chip-1.cir'))).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8')).chips).toHaveLength(2);
  });

  it('SIGTERM or Ctrl-C during compare stops ngspice, removes its temporary folder and the staging folder, and exits 143 or 130', async () => {
    for (const [signal, code] of [
      ['SIGTERM', 143],
      ['SIGINT', 130],
    ] as const) {
      // Its own temporary folder, so that other SPICE runs on the machine do not count.
      const tmp = mkdtempSync(join(work, 'tmp-'));
      const out = join(work, `interrupted-${signal}`);
      const child = spawn(
        process.execPath,
        [bin, 'spice', 'compare', '-m', dir, '--chips', '50', '--images', '2000', '--quiet', '-o', out],
        { env: { ...process.env, TMPDIR: tmp }, stdio: 'ignore' },
      );
      const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      // Wait until ngspice runs under it (start-up takes seconds on a loaded machine).
      let spicePid = 0;
      for (let i = 0; i < 1200 && !(spicePid && readdirSync(tmp).length); i++) {
        spicePid = 0;
        await new Promise((r) => setTimeout(r, 100));
        for (const p of readdirSync('/proc').filter((f) => /^\d+$/.test(f))) {
          try {
            const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
            if (/\(ngspice\)/.test(stat) && Number(stat.split(') ')[1].split(' ')[1]) === child.pid) spicePid = Number(p);
          } catch {
            // gone meanwhile
          }
        }
      }
      expect(spicePid).toBeGreaterThan(0);
      expect(readdirSync(tmp).some((f) => f.startsWith('xbar-spice-'))).toBe(true);
      child.kill(signal);
      expect(await exited).toBe(code);
      const alive = (() => {
        try {
          return readFileSync(`/proc/${spicePid}/stat`, 'utf8').split(') ')[1].split(' ')[0] !== 'Z';
        } catch {
          return false;
        }
      })();
      expect(alive).toBe(false);
      expect(readdirSync(tmp)).toEqual([]);
      expect(existsSync(out)).toBe(false);
      expect(readdirSync(work).filter((f) => f.startsWith(`.interrupted-${signal}`))).toEqual([]);
    }
  });

  it('a missing ngspice is one line naming the install', () => {
    const r = xbar(['spice', 'compare', '-m', dir, '--chips', '1', '--images', '2', '--engine', 'native'], {
      XBAR_NGSPICE: '/nonexistent/ngspice',
    });
    expect(r.code).toBe(1);
    expect(r.err.trim()).toMatch(/^xbar: error: ngspice not found .*apt-get install ngspice/);
    expect(r.err.trim().split('\n')).toHaveLength(1);
  });
});
