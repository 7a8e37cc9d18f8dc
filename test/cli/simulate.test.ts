import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xbar } from '../xbar-cli.js';

/** End-to-end: `xbar simulate` and `xbar faults` as a user runs them (npm test builds dist/ first). */
const work = mkdtempSync(join(tmpdir(), 'xbar-sim-'));
const model = join(work, 'paper');
afterAll(() => rmSync(work, { recursive: true, force: true }));
beforeAll(() => {
  const r = xbar('train', '--model', 'mlp-paper', '--epochs', '6', '--limit-train', '4000', '--out', model, '--quiet');
  expect(r.code, r.err).toBe(0);
});

describe('xbar simulate', () => {
  it('runs N chips, prints the summary and writes results, per-chip CSV and defect maps', () => {
    const out = join(work, 'sim');
    const args = [
      'simulate',
      '-m',
      model,
      '--chips',
      '8',
      '--seed',
      '3',
      '--limit-test',
      '500',
      '--faults',
      'random:sa0=0.01,sa1=0.03+[ring:radius=0.3@layers=0]',
    ];
    const r = xbar(...args, '--out', out, '--maps', '2');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/chips\s+mean acc/);
    expect(r.out).toMatch(/^\s+8\s+\d+\.\d+%/m);
    const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(res.format).toBe('xbar-simulate');
    expect(res.points[0].chips).toHaveLength(8);
    expect(res.points[0].faults).toContain('ring:');
    const chips = readFileSync(join(out, 'chips.csv'), 'utf8').trim().split('\n');
    expect(chips).toHaveLength(9);
    expect(chips[0]).toBe('sweep_key,sweep_value,chip,accuracy,correct,images,faulty_weights_per_layer');
    const maps = readdirSync(join(out, 'maps')).sort();
    expect(maps).toContain('chip-1-layer-0.svg');
    expect(maps).toContain('chip-0-layer-3.json');
    expect(maps.some((m) => m.startsWith('chip-2'))).toBe(false);
    // the same command gives the same chips
    const again = JSON.parse(xbar(...args, '--json').out);
    expect(again[0].summary).toEqual(res.points[0].summary);
  });

  it('worker threads give the same chips as one thread', () => {
    const args = [
      'simulate',
      '-m',
      model,
      '--chips',
      '7',
      '--seed',
      '4',
      '--limit-test',
      '400',
      '--read-noise',
      '0.05',
      '--faults',
      'checkerboard:density=0.01',
    ];
    const one = join(work, 'w1');
    const two = join(work, 'w2');
    expect(xbar(...args, '--workers', '1', '--out', one, '--quiet').code).toBe(0);
    expect(xbar(...args, '--workers', '2', '--out', two, '--quiet').code).toBe(0);
    const chips = (d: string) => JSON.parse(readFileSync(join(d, 'results.json'), 'utf8')).points[0].chips;
    expect(chips(two)).toEqual(chips(one));
  });

  it('a measured-device preset (conductance-dependent noise) runs the same chips on workers as on one thread', () => {
    const args = ['simulate', '-m', model, '--device', 'pcm-joshi2020', '--chips', '4', '--seed', '2', '--limit-test', '300'];
    const one = JSON.parse(xbar(...args, '--workers', '1', '--json').out);
    const two = JSON.parse(xbar(...args, '--workers', '2', '--json').out);
    expect(two[0].summary).toEqual(one[0].summary);
    // The PCM spread is ~1 uS on a 25 uS swing: chips differ from each other.
    expect(one[0].summary.std).toBeGreaterThan(0);
  });

  it('--time reads the same programmed chips at every time: a sweep row is the single-time run', () => {
    const base = ['simulate', '-m', model, '--device', 'pcm-joshi2020', '--chips', '3', '--seed', '6', '--limit-test', '300'];
    const out = join(work, 'time');
    const r = xbar(...base, '--time', '1s,1d,1y', '--drift-compensation', 'global', '--workers', '2', '--out', out, '--quiet');
    expect(r.code, r.err).toBe(0);
    const rows = readFileSync(join(out, 'summary.csv'), 'utf8').trim().split('\n').slice(1);
    expect(rows.map((l) => l.split(',').slice(0, 3).join(','))).toEqual(['time,1s,3', 'time,1d,3', 'time,1y,3']);
    const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(res.points.map((p: { read: { t: number } }) => p.read.t)).toEqual([1, 86400, 365 * 86400]);
    const alone = JSON.parse(xbar(...base, '--time', '1y', '--drift-compensation', 'global', '--workers', '1', '--json').out);
    expect(alone[0].summary).toEqual(res.points[2].summary);
    // --sweep time= is the same sweep
    const swept = JSON.parse(xbar(...base, '--sweep', 'time=1s,1d,1y', '--drift-compensation', 'global', '--json').out);
    expect(swept.map((p: { summary: unknown }) => p.summary)).toEqual(res.points.map((p: { summary: unknown }) => p.summary));
    // with another sweep: a row per (value, time)
    const both = JSON.parse(xbar(...base, '--time', '1s,1y', '--sweep', 'drift-compensation=none,global', '--json').out);
    expect(both.map((p: { key: string; value: string }) => `${p.key}:${p.value}`)).toEqual([
      'drift-compensation+time:none@1s',
      'drift-compensation+time:none@1y',
      'drift-compensation+time:global@1s',
      'drift-compensation+time:global@1y',
    ]);
    expect(both[3].summary).toEqual(res.points[2].summary);
  });

  it('sweeps a setting into one table', () => {
    const out = join(work, 'sweep');
    const r = xbar('simulate', '-m', model, '--chips', '4', '--limit-test', '300', '--sweep', 'sigma=0,0.3,1', '--out', out, '--quiet');
    expect(r.code, r.err).toBe(0);
    const rows = readFileSync(join(out, 'summary.csv'), 'utf8').trim().split('\n').slice(1);
    expect(rows.map((l) => l.split(',').slice(0, 3).join(','))).toEqual(['sigma,0,4', 'sigma,0.3,4', 'sigma,1,4']);
    const means = rows.map((l) => Number(l.split(',')[3]));
    expect(means[2]).toBeLessThan(means[0]);
    const layers = xbar(
      'simulate',
      '-m',
      model,
      '--chips',
      '2',
      '--limit-test',
      '200',
      '--faults',
      'rows:from=0,to=0.2',
      '--sweep',
      'layers=0;3;all',
      '--json',
    );
    expect(layers.code, layers.err).toBe(0);
    expect(JSON.parse(layers.out).map((p: { value: string }) => p.value)).toEqual(['0', '3', 'all']);
    const wires = xbar(
      'simulate',
      '-m',
      model,
      '--device',
      'ideal',
      '--chips',
      '1',
      '--limit-test',
      '500',
      '--sweep',
      'wire-resistance=0,30',
      '--json',
    );
    expect(wires.code, wires.err).toBe(0);
    const [clean, drop] = JSON.parse(wires.out).map((p: { summary: { mean: number } }) => p.summary.mean);
    expect(drop).toBeLessThan(clean);
  });

  it('the ideal chip gives the software accuracy', () => {
    const sw = JSON.parse(xbar('eval', '-m', model, '--json', '--limit-test', '500').out).accuracy;
    const r = JSON.parse(
      xbar('simulate', '-m', model, '--device', 'ideal', '--ideal', '--chips', '2', '--limit-test', '500', '--json').out,
    );
    expect(r[0].summary.mean).toBe(sw);
    expect(r[0].summary.std).toBe(0);
  });

  const bad: [string, string[], RegExp][] = [
    ['unknown pattern', ['--faults', 'blob:radius=1'], /fault pattern 'blob' is unknown/],
    ['rate out of range', ['--faults', 'random:sa0=1.5'], /sa0/],
    ['layer out of range', ['--faults', 'random:sa0=0.1@layers=7'], /names layer 7, but the model has weighted layers 0..3/],
    ['unknown device', ['--device', 'memristor9000'], /unknown device preset 'memristor9000'/],
    ['bad sweep key', ['--sweep', 'temperature=1,2'], /--sweep key 'temperature' is unknown/],
    ['impossible sigma', ['--sigma', '-1'], /--sigma/],
    ['bad time', ['--time', '1h,3 fortnights'], /--time '3 fortnights' is not a time: use a number with s, min, h, d, w, mo or y/],
    ['compensation without time', ['--drift-compensation', 'global'], /--drift-compensation needs --time/],
    ['two time lists', ['--time', '1s,1h', '--sweep', 'time=1d,1y'], /--sweep time=... and --time both give read times/],
  ];
  for (const [what, extra, msg] of bad)
    it(`bad input: ${what}`, () => {
      const out = join(work, `bad-${what.replace(/\W/g, '')}`);
      const r = xbar('simulate', '-m', model, '--chips', '2', '--limit-test', '50', ...extra, '--out', out);
      expect(r.code).not.toBe(0);
      expect(r.err).toMatch(msg);
      expect(r.err.trim().split('\n').length).toBeLessThanOrEqual(2);
      expect(existsSync(join(out, 'results.json'))).toBe(false);
    });

  it('a broken device file is named', () => {
    const f = join(work, 'dev.json');
    writeFileSync(f, JSON.stringify({ gMin: 1e-4, gMax: 1e-6 }));
    const r = xbar('simulate', '-m', model, '--device', f, '--chips', '1');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/gMax .* must be above gMin/);
  });
});

describe('xbar faults', () => {
  it('draws a pattern as SVG or JSON and reports the counts', () => {
    const svg = join(work, 'ring.svg');
    const r = xbar('faults', '--spec', 'ring:radius=0.3,width=0.1,kind=stuck-off', '--rows', '40', '--cols', '40', '--out', svg);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/of 1600 cells stuck .*: 0 stuck-on, \d+ stuck-off/);
    expect(readFileSync(svg, 'utf8')).toMatch(/^<svg/);
    const json = join(work, 'rows.json');
    expect(xbar('faults', '--spec', 'rows:from=0,to=0.5', '--rows', '10', '--cols', '4', '--out', json).code).toBe(0);
    expect(JSON.parse(readFileSync(json, 'utf8')).map.cells).toEqual([...Array(5).fill('1111'), ...Array(5).fill('0000')]);
    const bad = xbar('faults', '--spec', 'rows', '--out', join(work, 'x.gif'));
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/must end in .svg, .json, .png or .csv/);
  });

  it('a defect map round-trips: xbar faults --out map.png, then simulate --faults map.png programs exactly that map', () => {
    // mlp-paper's first layer is one 65 x 16 array (65 rows, 8 weight columns as differential pairs).
    const spec = 'random:sa0=0.03,sa1=0.03+ring:radius=0.3,kind=stuck-at,level=0.6';
    for (const ext of ['png', 'csv']) {
      const file = join(work, `wafer.${ext}`);
      expect(xbar('faults', '--spec', spec, '--rows', '65', '--cols', '16', '--seed', '4', '--out', file).code).toBe(0);
      const drawn = join(work, `wafer-${ext}.json`);
      expect(xbar('faults', '--spec', spec, '--rows', '65', '--cols', '16', '--seed', '4', '--out', drawn).code).toBe(0);
      const out = join(work, `sim-map-${ext}`);
      const r = xbar(
        'simulate',
        '-m',
        model,
        '--chips',
        '2',
        '--limit-test',
        '200',
        '--faults',
        `${file}@layers=0`,
        '--maps',
        '2',
        '--out',
        out,
        '--quiet',
      );
      expect(r.code, r.err).toBe(0);
      const want = JSON.parse(readFileSync(drawn, 'utf8')).map;
      for (const c of [0, 1]) {
        const got = JSON.parse(readFileSync(join(out, 'maps', `chip-${c}-layer-0.json`), 'utf8')).tiles[0].map;
        expect(got.cells).toEqual(want.cells);
        // PNG keeps stuck-at levels to 1/254.
        got.stuckAt.forEach((a: number[], i: number) => {
          expect(a[2]).toBeCloseTo(want.stuckAt[i][2], 2);
        });
      }
    }
  });

  it('a wrongly sized or malformed map is one line naming the array and the size it needs', () => {
    const file = join(work, 'wafer.png');
    expect(xbar('faults', '--spec', 'random:sa1=0.05', '--rows', '65', '--cols', '16', '--out', file).code).toBe(0);
    // Without @layers=0 it lands on layer 1 too, a 9 x 16 array.
    const r = xbar('simulate', '-m', model, '--chips', '1', '--limit-test', '50', '--faults', file, '--quiet');
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/defect map .*wafer.png is 65x16 but layer 1's array 0 \(weight rows 0-8, weight columns 0-7\) is 9x16/);
    const broken = join(work, 'broken.csv');
    writeFileSync(broken, '0,on\n0,on,off\n');
    const b = xbar('simulate', '-m', model, '--chips', '1', '--limit-test', '50', '--faults', `${broken}@layers=0`, '--quiet');
    expect(b.code).toBe(1);
    expect(b.err.trim().split('\n')).toHaveLength(1);
    expect(b.err).toMatch(/broken.csv: line 2 has 3 fields, the first has 2/);
  });
});
