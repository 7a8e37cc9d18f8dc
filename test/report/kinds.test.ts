import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { correctnetKind, extractCorrectnet } from '../../src/report/kinds/correctnet.js';
import { correctorKind, extractCorrector } from '../../src/report/kinds/corrector.js';
import { extractFaultMap } from '../../src/report/kinds/fault-map.js';
import { commandLine, extractSimulate, mapDirName, simulateKind } from '../../src/report/kinds/simulate.js';
import { extractSpiceCompare, figures } from '../../src/report/kinds/spice-compare.js';
import { renderSVG } from '../../src/report/render.js';
import type { FaultMapFile, ResultInput, Section } from '../../src/report/types.js';
import { accuracyStat, beforeAfter, toStat } from '../../src/report/util.js';
import { correctnetResult, correctorResult, simulateResult, spiceResult } from './fixtures.js';

/** Data extraction per result kind, on files shaped as the writers write them, and tolerance to the variants. */

const input = (json: object, maps: FaultMapFile[] = []): ResultInput => ({ file: 'r.json', json: json as Record<string, unknown>, maps });
const ctx = { id: 's', maxMaps: 12 };

const map = (rows: string[], extra: object = {}) => ({
  format: 'xbar-fault-map',
  version: 1,
  seed: 5,
  chip: 0,
  layer: 0,
  faults: 'ring:radius=0.3',
  tiles: [
    { r0: 0, r1: rows.length, c0: 0, c1: rows[0].length / 2, map: { rows: rows.length, cols: rows[0].length, cells: rows, stuckAt: [] } },
  ],
  ...extra,
});

/** Every plot of a section renders to an SVG with marks and without Vega warnings. */
async function expectPlotsRender(s: Section) {
  for (const p of s.plots) {
    const r = await renderSVG(p.spec, `${s.id}-${p.id}`);
    expect(r.warnings, p.id).toEqual([]);
    expect(r.svg).toMatch(/^<svg[^>]+class="marks"/);
    expect(r.svg).not.toContain('NaN');
  }
}

describe('util', () => {
  it('reads accuracy from numbers, summaries, per-chip lists and percentages', () => {
    expect(toStat(0.5)).toEqual({ mean: 0.5 });
    expect(toStat({ n: 3, mean: 0.5, std: 0.1, min: 0.4, max: 0.6, ci95: [0.45, 0.55] })).toMatchObject({
      mean: 0.5,
      std: 0.1,
      lo: 0.45,
      hi: 0.55,
      n: 3,
    });
    const s = toStat([0.4, 0.6]);
    expect(s?.mean).toBeCloseTo(0.5);
    expect(s?.std).toBeCloseTo(Math.SQRT2 / 10);
    expect(toStat([{ accuracy: 0.2 }, { accuracy: 0.4 }])?.mean).toBeCloseTo(0.3);
    expect(toStat({ summary: { mean: 0.7 } })?.mean).toBe(0.7);
    expect(accuracyStat({ mean: 85, std: 3 })).toMatchObject({ mean: 0.85, std: 0.03 });
    expect(toStat('x')).toBeNull();
  });

  it('finds before/after under the usual names', () => {
    expect(beforeAfter({ before: 0.5, after: 0.9 })).toMatchObject({ before: { mean: 0.5 }, after: { mean: 0.9 } });
    expect(beforeAfter({ uncorrected: { mean: 0.4 }, corrected: { mean: 0.8 } })).toMatchObject({
      before: { mean: 0.4 },
      after: { mean: 0.8 },
    });
    expect(beforeAfter({ accuracyBefore: 0.3, accuracyAfter: 0.7 })).toMatchObject({ before: { mean: 0.3 }, after: { mean: 0.7 } });
    expect(beforeAfter({ accuracy: 0.3 })).toBeNull();
  });
});

describe('xbar-simulate', () => {
  it('extracts a numeric sweep: points, chips, spread, configuration', async () => {
    const d = extractSimulate(input(simulateResult({ key: 'sigma', values: ['0', '0.1', '0.2'] })));
    expect(d.sweepKey).toBe('sigma');
    expect(d.numeric).toBe(true);
    expect(d.points.map((p) => p.value)).toEqual(['0', '0.1', '0.2']);
    expect(d.points[1].stat).toMatchObject({ mean: 0.8, std: 0.01, n: 3 });
    expect(d.points[1].stat.values).toHaveLength(3);
    expect(d.seed).toBe(5);
    expect(d.chips).toBe(3);
    const s = simulateKind.section(d, ctx);
    expect(s.plots.map((p) => p.id)).toEqual(['accuracy-vs-sigma']);
    expect(s.tables[0].rows.map((r) => r[0])).toEqual(['0', '0.1', '0.2']);
    expect(s.facts).toContainEqual(['programming sigma', 'per point: 0 | 0.1 | 0.2']);
    expect(s.facts.find(([k]) => k === 'command')?.[1]).toBe(
      'xbar simulate --device reram-generic --chips 3 --seed 5 --model runs/m --sweep sigma=0,0.1,0.2',
    );
    await expectPlotsRender(s);
  });

  it('treats layers and faults sweeps as categories, and draws the defect maps by sweep point', async () => {
    const json = simulateResult({ key: 'layers', values: ['0', 'all'], faults: 'ring:radius=0.3' });
    const maps: FaultMapFile[] = [
      { path: 'maps/layers=all/chip-0-layer-0.json', point: mapDirName('layers', 'all'), json: map(['0110', '0000']) },
      { path: 'maps/layers=0/chip-0-layer-0.json', point: mapDirName('layers', '0'), json: map(['1000', '0002']) },
      {
        path: 'maps/layers=0/chip-0-layer-1.json',
        point: 'layers=0',
        json: null,
        error: 'maps/layers=0/chip-0-layer-1.json: not valid JSON',
      },
    ];
    const d = extractSimulate(input(json, maps));
    expect(d.numeric).toBe(false);
    expect(d.maps.map((m) => m.point)).toEqual(['layers=0', 'layers=all']);
    expect(d.notes).toEqual(['defect map left out: maps/layers=0/chip-0-layer-1.json: not valid JSON']);
    expect(d.points[0].faultyMean).toEqual([2, 0, 2, 0]);
    const s = simulateKind.section(d, ctx);
    expect(s.plots.map((p) => p.id)).toEqual(['accuracy-per-layers', 'accuracy-vs-stuck-weights', 'map-1-layers-0', 'map-2-layers-all']);
    expect(s.plots.filter((p) => p.small)).toHaveLength(2);
    await expectPlotsRender(s);
    expect(simulateKind.section(d, { id: 's', maxMaps: 1 }).notes.join(' ')).toMatch(/1 more defect maps not drawn/);
  });

  it('draws a histogram of the chips for a run without a sweep', () => {
    const s = simulateKind.section(extractSimulate(input(simulateResult())), ctx);
    expect(s.plots[0].id).toBe('accuracy-histogram');
    expect(s.headline).toMatch(/^90\.00% \+- 0\.00 pp over 3 chips$/);
  });

  it('refuses a malformed file naming the file and the field', () => {
    const bad = simulateResult();
    (bad.points[0].summary as { mean: unknown }).mean = 'high';
    expect(() => extractSimulate(input(bad))).toThrow(/^r\.json: points\[0\]\.summary\.mean must be a number/);
    expect(() => extractSimulate(input({ format: 'xbar-simulate', version: 1 }))).toThrow(/r\.json: points must be an array/);
    expect(() => extractSimulate(input({ format: 'xbar-simulate', version: 1, points: [] }))).toThrow(/points is empty/);
  });

  it('rebuilds the command line from the recorded options', () => {
    expect(
      commandLine({ model: 'm', faults: 'ring:radius=0.3+random:sa0=0.01', saturate: false, ideal: true, json: true, arraySize: 64 }),
    ).toBe("xbar simulate --model m --faults 'ring:radius=0.3+random:sa0=0.01' --no-saturate --ideal --array-size 64");
  });
});

describe('xbar-fault-map', () => {
  it('places the arrays of a layer and colours each stuck cell by kind', () => {
    const m = extractFaultMap(
      {
        format: 'xbar-fault-map',
        version: 1,
        chip: 2,
        layer: 1,
        tiles: [
          { r0: 0, r1: 2, c0: 0, c1: 2, map: { rows: 2, cols: 4, cells: ['1100', '0023'], stuckAt: [[1, 3, 0.5]] } },
          { r0: 0, r1: 2, c0: 2, c1: 3, map: null },
          { r0: 2, r1: 3, c0: 0, c1: 2, map: { rows: 1, cols: 4, cells: ['0001'], stuckAt: [] } },
        ],
      },
      'm.json',
    );
    expect(m.tiles).toEqual([
      { x0: 0, y0: 0, x1: 4, y1: 2 },
      { x0: 7, y0: 0, x1: 9, y1: 2 },
      { x0: 0, y0: 5, x1: 4, y1: 6 },
    ]);
    expect(m.counts).toEqual({ 'stuck-on': 3, 'stuck-off': 1, 'stuck-at': 1, cells: 16 });
    expect(m.cells).toContainEqual({ x: 0, y: 0, w: 2, h: 1, kind: 'stuck-on' });
    expect(m.cells).toContainEqual({ x: 3, y: 1, w: 1, h: 1, kind: 'stuck-at' });
    expect(m.binned).toBe(false);
  });

  it('bins a map with very many stuck cells into shaded blocks', () => {
    const rows = Array.from({ length: 256 }, () => '1'.repeat(256));
    const m = extractFaultMap(map(rows), 'm.json');
    expect(m.binned).toBe(true);
    expect(m.cells.length).toBeLessThan(6000);
    expect(m.cells.every((c) => c.share === 1)).toBe(true);
  });

  it('reads the one-array form of xbar faults and refuses other versions and bad rows', () => {
    const one = extractFaultMap(
      { format: 'xbar-fault-map', version: 1, seed: 1, faults: 'x', map: { rows: 1, cols: 2, cells: ['10'], stuckAt: [] } },
      'f.json',
    );
    expect(one.counts['stuck-on']).toBe(1);
    expect(() => extractFaultMap({ ...map(['10']), version: 2 }, 'f.json')).toThrow(/f\.json: defect map version 2/);
    expect(() => extractFaultMap(map(['19']), 'f.json')).toThrow(/f\.json: tiles\[0\]\.map: row 0 must be 2 digits 0-3/);
  });
});

describe('xbar-corrector', () => {
  it('extracts before/after overall, per defect type, leave-one-out, per chip and sizes', async () => {
    const d = extractCorrector(input(correctorResult));
    expect(d.overall?.before.mean).toBe(0.52);
    expect(d.overall?.after).toMatchObject({ mean: 0.93, std: 0.03 });
    expect(d.groups.map((g) => g.name)).toEqual(['perType', 'leaveOneOut']);
    expect(d.groups[1].rows[1]).toMatchObject({ label: 'circle-complement', before: { mean: 0.51 }, after: { mean: 0.7 } });
    expect(d.perChip).toHaveLength(12);
    expect(d.sizes.map((s) => [s.params, s.label])).toEqual([
      [42, 'hidden 2'],
      [178, 'hidden 8'],
      [682, 'hidden 32'],
      [3114, 'hidden 64-32'],
    ]);
    expect(d.facts.some(([k]) => k.startsWith('before'))).toBe(false);
    expect(d.facts).toContainEqual(['corrector.parameters', '682']);
    const s = correctorKind.section(d, ctx);
    expect(s.headline).toBe('52.00% before, 93.00% after correction');
    expect(s.plots.map((p) => p.id)).toEqual([
      'before-after',
      'before-after-pertype',
      'before-after-leaveoneout',
      'per-chip',
      'size-sweep',
    ]);
    await expectPlotsRender(s);
  });

  it('reads a leave-one-out matrix and derives the overall figure from per-chip rows', async () => {
    const d = extractCorrector(
      input({
        format: 'xbar-corrector',
        version: 1,
        evaluation: {
          chips: [
            { chip: 0, uncorrected: 50, corrected: 90 },
            { chip: 1, uncorrected: 60, corrected: 92 },
          ],
        },
        matrix: {
          train: ['no-ring', 'no-rows'],
          test: ['ring', 'rows'],
          accuracy: [
            [0.9, 0.95],
            [0.94, 0.8],
          ],
        },
      }),
    );
    expect(d.perChip.map((c) => [c.label, c.before.mean, c.after.mean])).toEqual([
      ['chip 0', 0.5, 0.9],
      ['chip 1', 0.6, 0.92],
    ]);
    expect(d.overall?.after.mean).toBeCloseTo(0.91);
    expect(d.matrix).toContainEqual({ x: 'rows', y: 'no-rows', v: 0.8 });
    await expectPlotsRender(correctorKind.section(d, ctx));
  });

  it('says so when it recognises nothing', () => {
    const d = extractCorrector(input({ format: 'xbar-corrector', version: 1, model: 'm' }));
    expect(d.notes[0]).toMatch(/No accuracy before\/after correction recognised/);
    expect(correctorKind.section(d, ctx).plots).toEqual([]);
  });
});

describe('xbar-correctnet', () => {
  it('extracts the sigma sweep per method, clean accuracy, RL curve and per-layer figures', async () => {
    const d = extractCorrectnet(input(correctnetResult));
    expect(d.rows).toHaveLength(25);
    expect(new Set(d.rows.map((r) => r.method)).size).toBe(5);
    expect(d.rows.find((r) => r.sigma === 1 && r.method === 'plain')?.stat.mean).toBeCloseTo(0.1);
    expect(d.clean.get('lenet5')).toBe(0.991);
    expect(d.curves[0]).toMatchObject({ xTitle: 'episode', yTitle: 'reward' });
    expect(d.curves[0].points).toHaveLength(40);
    expect(d.layerBars[0].bars).toHaveLength(10);
    const s = correctnetKind.section(d, ctx);
    expect(s.tables[0].columns).toEqual([
      'sigma',
      'plain',
      'noise-injection',
      'lipschitz',
      'lipschitz+compensation',
      'noise-injection+compensation',
    ]);
    expect(s.plots.map((p) => p.id)).toEqual([
      'accuracy-vs-sigma-lenet5',
      'methods-per-sigma-lenet5',
      'curve-1-rl-curve',
      'layers-1-amplification',
    ]);
    await expectPlotsRender(s);
  });

  it('reads the column form and several models', () => {
    const d = extractCorrectnet(
      input({
        format: 'xbar-correctnet',
        version: 1,
        models: [
          { model: 'mlp', sigmas: [0, 0.5], methods: { plain: [0.98, 0.3], lipschitz: [0.97, 0.8] } },
          { model: 'lenet5', results: [{ sigma: 0.5, variant: 'plain', mean: 0.2, std: 0.05 }] },
        ],
      }),
    );
    expect(d.rows.map((r) => `${r.model}/${r.method}/${r.sigma}/${r.stat.mean}`)).toEqual([
      'lenet5/plain/0.5/0.2',
      'mlp/plain/0/0.98',
      'mlp/lipschitz/0/0.97',
      'mlp/plain/0.5/0.3',
      'mlp/lipschitz/0.5/0.8',
    ]);
    expect(correctnetKind.section(d, ctx).tables).toHaveLength(2);
  });
});

describe('xbar-spice-compare', () => {
  it('extracts per-chip accuracy from both engines, errors, times and voltage samples', async () => {
    const d = extractSpiceCompare(input(spiceResult));
    expect(d.rows).toHaveLength(3);
    expect(d.rows[1]).toMatchObject({ label: 'chip 1', accBehavioural: 0.85, accSpice: 0.85, agreement: 1, secondsSpice: 4.7 });
    expect(d.rows[1].errors).toEqual({ maxAbsError: 4e-4, meanRelError: 6e-5 });
    expect(d.overall).toMatchObject({ agreement: 1, secondsBehavioural: 0.012, secondsSpice: 14.2 });
    expect(d.samples).toHaveLength(30);
    const { spiceCompareKind } = await import('../../src/report/kinds/spice-compare.js');
    const s = spiceCompareKind.section(d, ctx);
    expect(s.headline).toMatch(/predictions agree on 100\.00%.*1183x faster than SPICE/);
    expect(s.plots.map((p) => p.id)).toEqual(['accuracy', 'voltage-error', 'time', 'voltages']);
    await expectPlotsRender(s);
  });

  it('reads flat field names and percentages', () => {
    expect(
      figures({ spiceAccuracy: 91, behaviouralAccuracy: 90.5, predictionAgreement: 99, spiceMs: 1200, behaviouralSeconds: 0.1 }),
    ).toEqual({
      accSpice: 0.91,
      accBehavioural: 0.905,
      agreement: 0.99,
      secondsSpice: 1.2,
      secondsBehavioural: 0.1,
      errors: {},
    });
  });
});

describe('result files as the writers wrote them on 2026-11-23 (small runs; test/report/fixtures/*-real.json)', () => {
  const real = (name: string) => input(JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', `${name}.json`), 'utf8')));

  it('xbar simulate --time with a drift-compensation sweep: accuracy vs time per compensation, and the device spread', async () => {
    // npx xbar simulate -m runs/mlp-paper --device reram-wan2022 --chips 3 --seed 2 --limit-test 300 \
    //   --time 1s,1d,1y --sweep drift-compensation=none,global --out runs/time   (on 2026-12-05)
    const d = extractSimulate(real('simulate-time-real'));
    expect(d.sweepKey).toBe('drift-compensation+time');
    expect(d.points.map((p) => p.read?.t)).toEqual([1, 86400, 365 * 86400, 1, 86400, 365 * 86400]);
    expect(d.points[4].read?.compensation).toBe('global');
    const s = simulateKind.section(d, ctx);
    expect(s.plots.map((p) => p.id)).toEqual(['accuracy-vs-time', 'device-spread']);
    const time = s.plots[0].spec as {
      layer: { data?: { values: { series: string }[] } }[];
      data?: { values: { x: number; series: string }[] };
    };
    const rows = JSON.stringify(time);
    expect(rows).toContain('drift-compensation=global');
    expect(rows).toContain('"type":"log"');
    // The spread plot: the 1 s fit of Wan et al. (Extended Data Fig. 3d, aihwkit's polynomial) at the middle of the range.
    const spread = (s.plots[1].spec as { data: { values: { x: number; y: number; series: string }[] } }).data.values;
    expect(new Set(spread.map((v) => v.series))).toEqual(new Set(['programmed', '1 s (source)', '1 d (source)', '2 d (source)']));
    const mid = spread.find((v) => v.series === 'programmed' && Math.abs(v.x - 20.5) < 1e-9);
    const u = 20.5 / 40;
    expect(mid?.y).toBeCloseTo(0.348 + 16.03 * u - 43.853 * u ** 2 + 45.393 * u ** 3 - 16.815 * u ** 4, 9);
    await expectPlotsRender(s);
  });

  it('xbar correct train: held-out before/after, per defect type, per chip', async () => {
    const d = extractCorrector(real('corrector-train-real'));
    expect(d.overall?.before.mean).toBeCloseTo(0.5813, 4);
    expect(d.overall?.after.mean).toBeCloseTo(0.8697, 4);
    expect(d.groups.map((g) => g.name)).toEqual(['heldOut.byType']);
    expect(d.groups[0].rows.find((r) => r.label === 'ring')).toMatchObject({ before: { mean: 0.702 } });
    expect(d.perChip).toHaveLength(12);
    expect(d.software).toBeGreaterThan(0.9);
    const s = correctorKind.section(d, ctx);
    expect(s.title).toBe('Learned output corrector (train): /tmp/rep-paper');
    await expectPlotsRender(s);
  });

  it('xbar correct study: size sweep per normalisation, leave-one-out per corrector, calibration sweep', async () => {
    const d = extractCorrector(real('corrector-study-real'));
    expect(d.sizes.map((s) => `${s.params}/${s.series}`).slice(0, 3)).toEqual(['94/none', '94/stats', '94/calib']);
    expect(d.groups.map((g) => [g.name, g.rows.length])).toEqual([
      ['rows.loo', 18],
      ['rows.calib', 4],
    ]);
    expect(d.groups[0].rows[0]).toMatchObject({ label: 'circle', variant: 'mlp-64-64/none' });
    expect(d.overallLabel).toBe('best corrector (mlp-64-64/calib-20)');
    expect(d.overall?.after.mean).toBeCloseTo(0.6314, 4);
    expect(d.perChip).toEqual([]);
    await expectPlotsRender(correctorKind.section(d, ctx));
  });

  it('xbar correctnet: the sweep of every method, clean accuracies, placement searches, RL curve, amplification', async () => {
    const d = extractCorrectnet(real('correctnet-real'));
    expect(d.model).toBe('mlp-paper');
    expect([...new Set(d.rows.map((r) => r.method))]).toEqual(['plain', 'noise', 'lipschitz', 'lipschitz+comp', 'noise+comp']);
    expect(d.rows.find((r) => r.method === 'plain' && r.sigma === 0.6)?.stat.mean).toBeCloseTo(0.1676, 4);
    expect(d.rows[0].stat.values).toHaveLength(5);
    expect(d.clean.get('mlp-paper')).toBe(0.59);
    expect(d.targetSigma).toBe(0.6);
    expect(d.placements.map((p) => p[0])).toEqual(['greedy', 'rl', 'exhaustive']);
    expect(d.curves[0]).toMatchObject({ xTitle: 'episode', yTitle: 'reward' });
    expect(d.layerBars.map((b) => b.name)).toEqual([
      'amplification',
      'amplification: outputError',
      'sensitivity',
      'spectral norm of each layer',
    ]);
    const s = correctnetKind.section(d, ctx);
    expect(s.headline).toMatch(/^sigma 0\.6: plain 16\.76%, noise 21\.68%/);
    expect(s.tables[0].rows[0][0]).toBe('clean (software)');
    await expectPlotsRender(s);
  });

  it("xbar correctnet --calibrate-search: the calibrated modules' placement searches get a table and an RL curve of their own", async () => {
    const r = real('correctnet-real');
    const j = structuredClone(r.json);
    j.calibrationPlacement = { ...(j.placement as object), actions: ['none', 'affine', 'rank 1', 'rank 2'] };
    const d = extractCorrectnet({ ...r, json: j });
    expect(d.calibratedPlacements.map((p) => p[0])).toEqual(['greedy', 'rl', 'exhaustive']);
    expect(d.placements.map((p) => p[0])).toEqual(['greedy', 'rl', 'exhaustive']);
    expect(d.curves.map((c) => c.name)).toContain('calibrationPlacement.results.rl.curve');
    const s = correctnetKind.section(d, ctx);
    expect(s.tables.map((t) => t.caption)).toContain('Placement of the per-chip calibrated modules: each search and what it found');
    await expectPlotsRender(s);
  });

  it('xbar spice compare: per-chip errors and accuracy from both engines, per-image times and speed-up', async () => {
    const d = extractSpiceCompare(real('spice-compare-real'));
    expect(d.rows.map((r) => r.label)).toEqual(['chip 0', 'chip 1']);
    expect(Object.keys(d.rows[0].errors)).toEqual(['maxAbsError', 'meanAbsError', 'maxRelError']);
    expect(d.rows[0]).toMatchObject({ agreement: 1, accBehavioural: 0.1, accSpice: 0.1, failures: 0 });
    expect(d.overall).toMatchObject({ perImage: true, failures: 0 });
    expect(d.overall.speedup).toBeCloseTo(15.6, 1);
    expect(Object.keys(d.overall.errors)).toEqual(['maxAbsError', 'meanAbsError', 'maxRelError']);
    const { spiceCompareKind } = await import('../../src/report/kinds/spice-compare.js');
    const s = spiceCompareKind.section(d, ctx);
    expect(s.headline).toBe('predictions agree on 100.00%, accuracy 10.00% vs 10.00% (SPICE), behavioural 15.6x faster than SPICE');
    await expectPlotsRender(s);
  });
});
