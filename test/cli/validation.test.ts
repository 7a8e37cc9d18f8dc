import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { correctorSpec } from '../../src/mitigation/corrector/corrector.js';
import { saveModel, sha256 } from '../../src/nn/io-node.js';
import { buildModel } from '../../src/nn/model.js';
import { simulateResult } from '../report/fixtures.js';

/**
 * End-to-end: the last bad inputs of issue 20 (items 6-10) as a user gives them. Each must end in
 * one line and a non-zero exit, never a stack trace (exit 70), a silent wrong load or a result.
 */
const bin = resolve(import.meta.dirname, '../../dist/cli/main.js');
const xbar = (args: string[], env: Record<string, string> = {}) => {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0', ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
/** Refused: exit 1, one line on stderr matching `re`. */
const refused = (r: { code: number | null; err: string }, re: RegExp) => {
  expect(r.code, r.err).toBe(1);
  expect(r.err).toMatch(/^xbar: error: /);
  expect(r.err.trim().split('\n'), r.err).toHaveLength(1);
  expect(r.err).toMatch(re);
};
const work = mkdtempSync(join(tmpdir(), 'xbar-validation-'));
const model = join(work, 'paper');
afterAll(() => rmSync(work, { recursive: true, force: true }));
beforeAll(() => {
  const r = xbar(['train', '--model', 'mlp-paper', '--epochs', '2', '--limit-train', '1000', '--out', model, '--quiet']);
  expect(r.code, r.err).toBe(0);
});

/** A copy of the model with its header (and optionally its weights) changed. */
function mutated(name: string, edit: (h: Record<string, unknown>) => void, weights?: (w: Float32Array) => void): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  const h = JSON.parse(readFileSync(join(model, 'model.json'), 'utf8'));
  let bytes = readFileSync(join(model, 'weights.bin'));
  if (weights) {
    const f = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    weights(f);
    bytes = Buffer.from(f.buffer);
    h.weightsSha256 = sha256(bytes);
  }
  edit(h);
  writeFileSync(join(dir, 'model.json'), JSON.stringify(h));
  writeFileSync(join(dir, 'weights.bin'), bytes);
  return dir;
}
const evalOf = (dir: string, ...more: string[]) => xbar(['eval', '--model', dir, '--limit-test', '100', ...more]);

describe('model.json schema (item 6)', () => {
  it('a model without meta loads (no provenance recorded); null entries and shapes are one line', () => {
    const noMeta = mutated('no-meta', (h) => delete h.meta);
    refused(evalOf(noMeta), /does not record its dataset: pass --dataset/);
    expect(evalOf(noMeta, '--dataset', 'digits8').code).toBe(0);
    refused(evalOf(mutated('meta-null', (h) => (h.meta = null))), /model\.json is malformed: meta/);
    refused(evalOf(mutated('null-entry', (h) => ((h.weights as unknown[])[0] = null))), /model\.json is malformed: weights\.0/);
    refused(evalOf(mutated('null-shape', (h) => ((h.weights as { shape: unknown }[])[1].shape = null))), /weights\.1\.shape/);
  }, 300_000);

  it('offsets that are negative, overlap or leave floats uncovered are refused, not loaded wrong', () => {
    type E = { offset: number; shape: number[] };
    refused(evalOf(mutated('neg', (h) => ((h.weights as E[])[1].offset = -4))), /weights\.1\.offset/);
    refused(
      evalOf(
        mutated('overlap', (h) => {
          const w = h.weights as E[];
          w[1].offset = w[0].offset + 1;
        }),
      ),
      /where the format puts it at/,
    );
    refused(
      evalOf(
        mutated('swap', (h) => {
          const w = h.weights as E[];
          [w[0].offset, w[1].offset] = [w[1].offset, w[0].offset];
        }),
      ),
      /manifest in model\.json is corrupt/,
    );
  }, 300_000);

  it('NaN or Inf weights are refused naming the tensor, or loaded with a warning on request', () => {
    const nan = mutated(
      'nan',
      () => {},
      (f) => {
        f[600] = Number.NaN;
        f[601] = Number.POSITIVE_INFINITY;
      },
    );
    refused(evalOf(nan), /weight 'layer\d\.\w+' holds 2 NaN or infinite value\(s\).*--allow-nonfinite/);
    const r = evalOf(nan, '--allow-nonfinite');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/^warning: .*holds 2 NaN or infinite/m);
    refused(xbar(['simulate', '-m', nan, '--chips', '1', '--limit-test', '50']), /NaN or infinite/);
  }, 300_000);

  it('corrector.json with "meta": null (or missing what correct eval needs) is one line', () => {
    const dir = join(work, 'corrector');
    mkdirSync(dir, { recursive: true });
    // The corrector's own network (a 10-in, 10-out corrector), so only corrector.json is at fault.
    saveModel(dir, buildModel(correctorSpec(10, 10, []), 1), {});
    const header = {
      format: 'xbar-corrector',
      version: 1,
      kind: 'corrector',
      hidden: [],
      norm: 'calib',
      layout: { size: 10, groups: [{ name: 'output', weighted: 3, size: 10, until: null, volts: 0.1 }] },
      classes: 10,
      meta: null,
    };
    writeFileSync(join(dir, 'corrector.json'), JSON.stringify(header));
    refused(xbar(['correct', 'eval', '--corrector', dir, '--chips', '1']), /corrector\.json is malformed \(meta: /);
    writeFileSync(join(dir, 'corrector.json'), JSON.stringify({ ...header, meta: { model: 'x' } }));
    refused(
      xbar(['correct', 'eval', '--corrector', dir, '--chips', '1']),
      /corrector\.json lacks what correct eval needs \(meta\.modelSha256/,
    );
  }, 300_000);
});

describe('fault specs (items 7, 10)', () => {
  const sim = (...more: string[]) => xbar(['simulate', '-m', model, '--chips', '2', '--limit-test', '50', '--workers', '1', ...more]);
  it('refuses rates past 1, an empty spec and empty regions, one line each', () => {
    refused(sim('--faults', 'random:sa0=0.6,sa1=0.6'), /add up to more than 1/);
    refused(sim('--faults', ''), /fault spec is empty: to simulate without faults leave --faults out/);
    refused(sim('--faults', 'rows:from=0.5,to=0.2'), /band is empty/);
    refused(sim('--faults', 'ring:width=0'), /width 0 is empty/);
    refused(xbar(['faults', '--spec', 'ring:width=0', '--out', join(work, 'x.svg')]), /width 0 is empty/);
  }, 300_000);

  it('prints which layers each term lands on; a final @layers scopes the whole spec', () => {
    const r = sim('--faults', 'ring:radius=0.3,width=0.1+columns:from=0.5,to=0.6@layers=1,2');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/faults: ring on layers 1,2; columns on layers 1,2/);
    const b = sim('--faults', '[ring:radius=0.3@layers=0]+random:sa1=0.01');
    expect(b.code, b.err).toBe(0);
    expect(b.err).toMatch(/faults: ring on layer 0; random on layers 0,1,2,3 \(all\)/);
    refused(sim('--faults', 'circle@layers=0+rows+columns@layers=2'), /ambiguous/);
    const f = xbar(['faults', '--spec', '[ring@layers=0]+columns@layers=1', '--out', join(work, 'f.svg')]);
    expect(f.code, f.err).toBe(0);
    expect(f.out).toMatch(/on a chip: ring on layer 0; columns on layer 1/);
  }, 300_000);
});

describe('device files and sweeps agree with the flags (item 8)', () => {
  const sim = (...more: string[]) => xbar(['simulate', '-m', model, '--chips', '2', '--limit-test', '50', '--workers', '1', ...more]);
  it('caps device-file fields and sweep values as the flags do, and reads a .JSON path as a file', () => {
    const dev = (name: string, d: object) => {
      const p = join(work, name);
      writeFileSync(p, JSON.stringify({ gMin: 1e-6, gMax: 1e-4, ...d }));
      return p;
    };
    refused(sim('--device', dev('sigma.json', { programSigma: 1000 })), /programSigma.*(<=|10)/);
    refused(sim('--device', dev('noise.json', { readNoise: 1e6 })), /readNoise/);
    // The flag's own bound (a usage error, exit 2) is the same number as the file's and the sweep's.
    const flag = sim('--sigma', '100');
    expect(flag.code).toBe(2);
    expect(flag.err).toMatch(/--sigma <x>' argument '100' is invalid. expected a number in \[0, 10\]/);
    refused(sim('--sweep', 'sigma=0.1,100'), /programSigma/);
    refused(sim('--sweep', 'adc-bits=4,99'), /adcBits/);
    const upper = dev('DEVICE.JSON', { programSigma: 0.05 });
    const ok = sim('--device', upper, '--json');
    expect(ok.code, ok.err).toBe(0);
    refused(sim('--device', join(work, 'missing.JSON')), /device file .*missing\.JSON not found/);
  }, 300_000);
});

describe('report values and duplicates (item 8)', () => {
  it('refuses accuracies outside 0..1 instead of drawing 4200%, and lists a run once', () => {
    const dir = join(work, 'sim-result');
    mkdirSync(dir, { recursive: true });
    const res = simulateResult();
    writeFileSync(join(dir, 'results.json'), JSON.stringify(res));
    const out = join(work, 'r.html');
    const r = xbar(['report', dir, join(dir, 'results.json'), `${dir}/./results.json`, '--out', out, '--json']);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).results).toHaveLength(1);
    const bad = structuredClone(res) as { points: { summary: { mean: number }; chips: { accuracy: number }[] }[] };
    bad.points[0].summary.mean = 42;
    writeFileSync(join(dir, 'results.json'), JSON.stringify(bad));
    refused(xbar(['report', dir, '--out', out]), /points\[0\]\.summary\.mean is 42, outside 0\.\.1/);
    bad.points[0].summary.mean = 0.5;
    bad.points[0].chips[1].accuracy = -5;
    writeFileSync(join(dir, 'results.json'), JSON.stringify(bad));
    refused(xbar(['report', dir, '--out', out]), /chips\[1\]\.accuracy is -5, outside 0\.\.1/);
  }, 300_000);
});

describe('size check before work (item 9)', () => {
  it('refuses work that cannot fit in one line, before allocating it', () => {
    const spec = join(work, 'huge.json');
    writeFileSync(spec, JSON.stringify({ inputShape: [8, 8, 1], layers: [{ type: 'dense', units: 20_000_000 }] }));
    const t0 = Date.now();
    refused(
      xbar(['train', '--model', spec, '--dataset', 'digits8', '--epochs', '1'], { XBAR_MEMORY_LIMIT: '8G' }),
      /training '.*huge\.json' needs about \d+\.\d GB of memory .* more than the 8\.0 GB allowed by XBAR_MEMORY_LIMIT: use a smaller model/,
    );
    refused(
      xbar(['faults', '--spec', 'random:sa1=0.01', '--rows', '16384', '--cols', '16384', '--out', join(work, 'big.svg')], {
        XBAR_MEMORY_LIMIT: '2G',
      }),
      /drawing a 16384x16384 array needs about \d+\.\d GB/,
    );
    // Seconds, not the minutes (or the out-of-memory kill) the work would take: a loose bound for a loaded machine.
    expect(Date.now() - t0).toBeLessThan(60_000);
  }, 300_000);

  it('every long command checks memory before its first epoch or chip, and leaves no --out', () => {
    // 10 kB is less than any of these runs needs (the test images alone are more), so each must refuse at once.
    const tiny = { XBAR_MEMORY_LIMIT: '10k' };
    const out = (name: string) => join(work, `mem-${name}`);
    const cases: [string, string[], RegExp][] = [
      ['train', ['train', '--model', 'mlp-paper', '--epochs', '1'], /training 'mlp-paper' needs about/],
      [
        'simulate',
        ['simulate', '-m', model, '--chips', '2'],
        /simulating .* needs about .* more than the 10 kB allowed by XBAR_MEMORY_LIMIT/,
      ],
      ['correct', ['correct', 'train', '-m', model, '--train-chips', '2', '--eval-chips', '1'], /simulating .*'s chips needs about/],
      ['correctnet', ['correctnet', '--model', 'mlp-paper', '--plain-epochs', '1'], /training mlp-paper needs about/],
      ['spice', ['spice', 'compare', '-m', model, '--images', '5'], /simulating .* needs about/],
    ];
    for (const [name, args, re] of cases) {
      const r = xbar([...args, '--out', out(name)], tiny);
      // spice compare needs ngspice only after the check: without it the refusal is the same.
      refused(r, re);
      expect(existsSync(out(name)), name).toBe(false);
    }
  }, 300_000);
});
