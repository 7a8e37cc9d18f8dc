import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { XbarError } from '../../src/core/errors.js';
import { resolveCircuit } from '../../src/crossbar/circuit.js';
import { DEVICE_LIMITS, devicePresets, resolveDevice } from '../../src/device/config.js';
import { formatFaultSpec, parseFaultSpec } from '../../src/faults/index.js';
import { correctorSpec } from '../../src/mitigation/corrector/corrector.js';
import { correctEvalMeta, loadCorrector, saveCorrector } from '../../src/mitigation/corrector/io-node.js';
import { populationFromFlags } from '../../src/mitigation/population.js';
import { sha256 } from '../../src/nn/io-node.js';
import { buildModel } from '../../src/nn/model.js';
import { presets } from '../../src/nn/presets.js';
import { decodeModel, encodeWeights, MODEL_FORMAT, MODEL_FORMAT_VERSION } from '../../src/nn/serialize.js';
import { extractResult, loadResult } from '../../src/report/load.js';
import { sweepPoints } from '../../src/study/simulate-node.js';
import { correctnetResult, correctorResult, simulateResult, spiceResult } from '../report/fixtures.js';

/**
 * Issue 20's property: every reader of a file xbar reads, fed mutated input, ends in a result or
 * an XbarError of one line, never a TypeError, a stack trace or a silent wrong load.
 */
const dir = mkdtempSync(join(tmpdir(), 'xbar-readers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs a reader: its result, or the XbarError it threw (any other error fails the test). */
function outcome<T>(read: () => T): { ok: true; value: T } | { ok: false } {
  try {
    return { ok: true, value: read() };
  } catch (e) {
    if (!(e instanceof XbarError)) throw e;
    expect(e.message).not.toContain('\n');
    expect(e.message.length).toBeGreaterThan(10);
    return { ok: false };
  }
}

type Json = unknown;
/** A mutation: a path (indices into the keys met on the way down) and a new value, or deletion. */
const mutation = fc.record({
  path: fc.array(fc.nat(), { minLength: 1, maxLength: 5 }),
  value: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom<Json>(undefined, null, -1, 0, 1e308, -4, 0.5, '', [], {}, Number.NaN)),
});

/** Applies a mutation to a deep copy: walks down by key index and replaces (or deletes) the last one. */
function mutate(obj: Json, m: { path: number[]; value: Json }): Json {
  const root = structuredClone(obj);
  let node = root as Record<string, Json>;
  for (let i = 0; i < m.path.length; i++) {
    const keys = Object.keys(node);
    if (!keys.length) return root;
    const key = keys[m.path[i] % keys.length];
    const child = node[key];
    if (i === m.path.length - 1 || child === null || typeof child !== 'object') {
      if (m.value === undefined) delete node[key];
      else node[key] = m.value;
      return root;
    }
    node = child as Record<string, Json>;
  }
  return root;
}

describe('mutated model.json and weights', () => {
  const model = buildModel(presets['mlp-paper'].spec, 3);
  const { entries, bytes } = encodeWeights(model);
  const header = {
    format: MODEL_FORMAT,
    version: MODEL_FORMAT_VERSION,
    spec: model.spec,
    weights: entries,
    weightsFile: 'weights.bin',
    weightsBytes: bytes.length,
    weightsSha256: sha256(bytes),
    meta: { dataset: 'digits8', seed: 3 },
  };
  const original = model.params.map((p) => Array.from(p.value));

  it('load the same floats or refuse in one line (property)', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (ms) => {
        const h = ms.reduce((acc, m) => mutate(acc, m), header as Json);
        const r = outcome(() => decodeModel(h, bytes, 'm', sha256));
        // A load that succeeds must give exactly the saved weights: never the wrong floats.
        if (r.ok)
          r.value.model.params.forEach((p, i) => {
            expect(Array.from(p.value)).toEqual(original[i]);
          });
      }),
      { numRuns: 400 },
    );
  });

  it('refuse non-finite weights naming the tensor, wherever they are (property)', () => {
    fc.assert(
      fc.property(fc.nat(bytes.length / 4 - 1), fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY), (i, v) => {
        const f = new Float32Array(bytes.slice().buffer);
        f[i] = v;
        const b = new Uint8Array(f.buffer);
        const h = { ...header, weightsSha256: sha256(b) };
        const name = entries.find((e) => i >= e.offset && i < e.offset + e.shape.reduce((a, x) => a * x, 1))?.name;
        expect(() => decodeModel(h, b, 'm', sha256)).toThrow(new RegExp(`weight '${name}' holds 1 NaN`));
        expect(decodeModel(h, b, 'm', sha256, { nonFinite: 'warn' }).warnings[0]).toMatch(/loaded anyway/);
      }),
      { numRuns: 100 },
    );
  });
});

describe('mutated corrector.json', () => {
  const cdir = join(dir, 'corrector');
  const layout = { size: 10, groups: [{ name: 'output', weighted: 3, size: 10, until: null, volts: 0.05 }] };
  const meta = {
    model: 'runs/mlp-paper',
    modelSha256: 'a'.repeat(64),
    dataset: 'digits8',
    device: resolveDevice('reram-generic'),
    circuit: resolveCircuit({}),
    population: {},
    probes: { statsImages: 64, calibImages: 32, ridge: 8 },
    hiddenVoltages: [],
    seed: 1,
    trainChips: 8,
  };
  const corrector = {
    hidden: [16],
    norm: 'calib' as const,
    calibImages: 32,
    model: buildModel(correctorSpec(10, 10, [16]), 1),
    layout,
    classes: 10,
  };
  const saved = saveCorrector(cdir, corrector, meta);

  it('loads what correct eval needs or refuses in one line (property)', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (ms) => {
        const file = ms.reduce((acc, m) => mutate(acc, m), saved as Json);
        writeFileSync(join(cdir, 'corrector.json'), JSON.stringify(file));
        outcome(() => {
          const c = loadCorrector(cdir);
          // What `correct eval` does with the meta next: each step a result or an XbarError.
          const meta = correctEvalMeta(c.file, cdir);
          resolveCircuit(meta.circuit);
          resolveDevice(meta.device as never);
          populationFromFlags(meta.population as never, {});
          return c;
        });
      }),
      { numRuns: 300 },
    );
  });
});

describe('mutated result files, read by the report', () => {
  const files = [simulateResult({ key: 'sigma', values: ['0', '0.1'] }), correctorResult, correctnetResult, spiceResult];
  it('give a section or one line, and a simulate section never shows an accuracy outside 0..1 (property)', () => {
    const rdir = join(dir, 'results');
    mkdirSync(rdir, { recursive: true });
    fc.assert(
      fc.property(fc.nat(files.length - 1), fc.array(mutation, { minLength: 1, maxLength: 3 }), (k, ms) => {
        const json = ms.reduce((acc, m) => mutate(acc, m), files[k] as Json);
        const file = join(rdir, `r${k}.json`);
        writeFileSync(file, JSON.stringify(json) ?? 'null');
        const r = outcome(() => {
          const loaded = loadResult(file, 0);
          if ('skipped' in loaded) return null;
          const data = extractResult(loaded);
          loaded.kind.section(data, { id: 'x', maxMaps: 0 });
          return data as { points?: { stat: { mean: number; min?: number; max?: number; values?: number[] } }[] };
        });
        if (r.ok && k === 0 && r.value?.points)
          for (const p of r.value.points)
            for (const v of [p.stat.mean, p.stat.min, p.stat.max, ...(p.stat.values ?? [])])
              if (v !== undefined) expect(v >= 0 && v <= 1, String(v)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('fault spec strings', () => {
  const token = fc.constantFrom(
    'random',
    'ring',
    'rows',
    'circle',
    'circle-complement',
    'checkerboard',
    ':',
    'sa0=',
    'sa1=',
    'width=',
    'radius=',
    'from=',
    'to=',
    'density=',
    'kind=stuck-off',
    '0.6',
    '0.2',
    '0',
    '1',
    '-1',
    'x',
    ',',
    '+',
    '@',
    '@layers=',
    'layers=',
    '0,2',
    'all',
    '[',
    ']',
    ' ',
    '',
  );
  it('parse to a spec that formats back to the same patterns and layers, or refuse in one line (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.array(token, { maxLength: 12 }).map((t) => t.join('')),
          fc.string(),
        ),
        (text) => {
          const r = outcome(() => parseFaultSpec(text));
          if (r.ok) {
            for (const g of r.value)
              for (const p of g.patterns) if (p.pattern === 'random') expect(p.sa0 + p.sa1 + p.stuckAt).toBeLessThanOrEqual(1 + 1e-12);
            const flat = (s: typeof r.value) => s.flatMap((g) => g.patterns.map((p) => ({ p, layers: g.layers })));
            expect(flat(parseFaultSpec(formatFaultSpec(r.value)))).toEqual(flat(r.value));
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('refuse anything that is not a string in one line', () => {
    fc.assert(
      fc.property(
        fc.anything().filter((v) => typeof v !== 'string'),
        (v) => {
          expect(outcome(() => parseFaultSpec(v as string)).ok).toBe(false);
        },
      ),
    );
  });
});

describe('mutated device files', () => {
  it('resolve to a device within the flags’ bounds, or refuse in one line (property)', () => {
    const { description: _d, ...liu } = devicePresets['reram-liu2017'];
    const base = { ...liu, programSigma: 0.1, readNoise: 0.01 };
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (ms) => {
        const json = ms.reduce((acc, m) => mutate(acc, m), base as Json);
        const r = outcome(() => resolveDevice(json as never, {}, 'device file d.json'));
        if (r.ok) {
          expect(r.value.programSigma).toBeLessThanOrEqual(DEVICE_LIMITS.programSigma);
          expect(r.value.readNoise).toBeLessThanOrEqual(DEVICE_LIMITS.readNoise);
          expect(r.value.gMax).toBeGreaterThan(r.value.gMin);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('sweep strings', () => {
  const key = fc.constantFrom(
    'sigma',
    'read-noise',
    'levels',
    'adc-bits',
    'dac-bits',
    'array-size',
    'wire-resistance',
    'faults',
    'layers',
    'fault-rate',
    'density',
    'bogus',
    '',
  );
  const value = fc.oneof(
    fc.constantFrom(
      '0',
      '0.1',
      '1',
      '2',
      '10',
      '11',
      '100',
      '-1',
      '1e9',
      'NaN',
      'x',
      '',
      'none',
      'random:sa1=0.1',
      'ring:width=0',
      '0,1',
      'all',
    ),
    fc.double({ noNaN: false }).map(String),
  );
  it('validate every point before work, or refuse in one line (property)', () => {
    fc.assert(
      fc.property(key, fc.array(value, { maxLength: 4 }), fc.constantFrom(',', ';'), fc.boolean(), (k, vs, sep, withFaults) => {
        const sweep = `${k}=${vs.join(sep)}`;
        const r = outcome(() =>
          sweepPoints({
            model: 'm',
            device: 'reram-generic',
            chips: 1,
            seed: 1,
            sweep,
            faults: withFaults ? 'ring:radius=0.3@layers=0' : undefined,
          }),
        );
        if (r.ok)
          for (const p of r.value.points) {
            expect(p.device.programSigma).toBeLessThanOrEqual(DEVICE_LIMITS.programSigma);
            expect(p.device.readNoise).toBeLessThanOrEqual(DEVICE_LIMITS.readNoise);
          }
      }),
      { numRuns: 500 },
    );
  });
});
