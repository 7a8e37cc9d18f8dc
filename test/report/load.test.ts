import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runReport } from '../../src/cli/report.js';
import { XbarError } from '../../src/core/errors.js';
import { buildReport, reportHtml } from '../../src/report/index.js';
import { loadResult, readMaps, resultFiles } from '../../src/report/load.js';
import { correctnetResult, correctorResult, simulateResult, spiceResult } from './fixtures.js';

/** Reading result files: the errors a user meets (missing, malformed, other version) and what is skipped. */

const work = mkdtempSync(join(tmpdir(), 'xbar-report-load-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const file = (name: string, content: string | object) => {
  const p = join(work, name);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  return p;
};

const err = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(XbarError);
    const m = (e as Error).message;
    expect(m).not.toContain('\n');
    return m;
  }
  throw new Error('expected an error');
};
const errAsync = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(XbarError);
    return (e as Error).message;
  }
  throw new Error('expected an error');
};

describe('result files', () => {
  it('a missing file or a folder without results is refused, naming it', () => {
    const missing = join(work, 'nope', 'results.json');
    expect(err(() => resultFiles(missing))).toMatch(
      new RegExp(`^${missing}: no such file or folder: pass results\\.json of \`xbar simulate --out\``),
    );
    mkdirSync(join(work, 'empty-dir'));
    expect(err(() => resultFiles(join(work, 'empty-dir')))).toMatch(/empty-dir: a folder with no results\.json/);
  });

  it('a folder gives its results.json, or its other xbar result files', () => {
    const r = file('run/results.json', simulateResult());
    expect(resultFiles(join(work, 'run'))).toEqual([r]);
    const a = file('mixed/corrector.json', correctorResult);
    file('mixed/notes.json', { hello: 1 });
    file('mixed/chip-0-layer-0.json', { format: 'xbar-fault-map', version: 1 });
    expect(resultFiles(join(work, 'mixed'))).toEqual([a]);
  });

  it('empty, malformed JSON and files without a format are refused, naming the file', () => {
    const empty = file('empty.json', '  \n');
    expect(err(() => loadResult(empty, 4))).toBe(`${empty}: the file is empty: re-run the command that wrote it`);
    const bad = file('bad.json', '{"format": "xbar-simulate", "version": 1, "points": [');
    expect(err(() => loadResult(bad, 4))).toMatch(new RegExp(`^${bad}: not valid JSON \\(.+\\); it is damaged or was not written by xbar`));
    const other = file('other.json', [1, 2, 3]);
    expect(err(() => loadResult(other, 4))).toMatch(new RegExp(`^${other}: not an xbar result file \\(no "format" field\\)`));
  });

  it('a file from another xbar version that this one cannot read is refused, naming both versions', () => {
    const v2 = file('v2.json', { ...simulateResult(), version: 2, xbarVersion: '0.9.0' });
    expect(err(() => loadResult(v2, 4))).toBe(
      `${v2}: xbar-simulate version 2 written by xbar 0.9.0, but this xbar (0.1.0) reads version 1: report it with the xbar that wrote it, or re-run the command with this one`,
    );
    const none = file('noversion.json', { ...simulateResult(), version: undefined });
    const r = loadResult(none, 4);
    expect('kind' in r && r.notes[0]).toMatch(/has no format version; read as xbar-simulate version 1/);
    const older = file('older.json', { ...simulateResult(), xbarVersion: '0.0.9' });
    const o = loadResult(older, 4);
    expect('kind' in o && o.notes).toEqual(['Written by xbar 0.0.9; this report was made by xbar 0.1.0.']);
  });

  it('a well-formed file of an unknown format is skipped with the reason; only unknown files is an error', async () => {
    const future = file('future.json', { format: 'xbar-quantum', version: 1 });
    const r = loadResult(future, 4);
    expect('skipped' in r && r.skipped).toMatch(
      new RegExp(`^${future}: format 'xbar-quantum' is not one this xbar \\(0\\.1\\.0\\) reports \\(it reads xbar-simulate, `),
    );
    const report = await buildReport([future, file('sim/results.json', simulateResult())]);
    expect(report.sections).toHaveLength(1);
    expect(report.skipped).toHaveLength(1);
    expect(reportHtml(report)).toContain('Files left out');
    expect(await errAsync(buildReport([future]))).toMatch(/^nothing to report: .*xbar-quantum/);
    expect(await errAsync(buildReport([]))).toMatch(/^no result files/);
  });

  it('a malformed result of a known kind names the file and the field', async () => {
    const broken = simulateResult();
    (broken.points[0] as { chips: unknown }).chips = 'many';
    const p = file('broken/results.json', broken);
    expect(await errAsync(buildReport([p]))).toBe(
      `${p}: points[0].chips must be an array: the file is malformed; re-run the command that wrote it`,
    );
  });

  it('reads defect maps beside a result, chip 0 first across sweep points, at most maxMaps', () => {
    const dir = join(work, 'maps-run', 'maps');
    for (const point of ['layers=0', 'layers=all'])
      for (const chip of [0, 1])
        for (const layer of [0, 1]) file(join('maps-run', 'maps', point, `chip-${chip}-layer-${layer}.json`), { format: 'xbar-fault-map' });
    file('maps-run/maps/layers=0/chip-0-layer-0.svg', '<svg/>');
    const maps = readMaps(dir, 5);
    expect(maps.map((m) => m.path.slice(dir.length + 1))).toEqual([
      'layers=0/chip-0-layer-0.json',
      'layers=all/chip-0-layer-0.json',
      'layers=0/chip-0-layer-1.json',
      'layers=all/chip-0-layer-1.json',
      'layers=0/chip-1-layer-0.json',
    ]);
    expect(readMaps(dir, 0)).toEqual([]);
    expect(readMaps(join(work, 'no-such'), 3)).toEqual([]);
  });

  it('every kind together makes one page with a section each and unique plot ids', async () => {
    const files = [
      file('all/sim/results.json', simulateResult({ key: 'sigma', values: ['0', '0.1'] })),
      file('all/corrector.json', correctorResult),
      file('all/correctnet.json', correctnetResult),
      file('all/spice.json', spiceResult),
    ];
    const r = await buildReport(files, { title: 'All kinds' });
    expect(r.sections.map((s) => [s.id, s.format])).toEqual([
      ['sim', 'xbar-simulate'],
      ['corrector', 'xbar-corrector'],
      ['correctnet', 'xbar-correctnet'],
      ['spice', 'xbar-spice-compare'],
    ]);
    expect(r.warnings).toEqual([]);
    const keys = r.plots.map((p) => p.key);
    expect(new Set(keys).size).toBe(keys.length);
    const html = reportHtml(r);
    expect(html.match(/<figure class="plot"/g)).toHaveLength(keys.length);
    // Self-contained: no external references; the ids inside the SVGs are unique in the page.
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('xbar report options', () => {
  it('refuses an --out that does not fit the format', async () => {
    const p = file('opt/results.json', simulateResult());
    expect(await errAsync(runReport([p], { out: join(work, 'r.txt'), quiet: true }))).toMatch(/--out .*r\.txt must end in \.html/);
    expect(await errAsync(runReport([p], { out: join(work, 'r.html'), format: 'svg', quiet: true }))).toMatch(
      /--format svg writes one file per plot/,
    );
    expect(await errAsync(runReport([p], { out: join(work, 'r.html'), screenshot: 'x.jpg', quiet: true }))).toMatch(
      /--screenshot x\.jpg must end in \.png/,
    );
  });

  it('exports one SVG per plot', async () => {
    const p = file('svg/results.json', simulateResult({ key: 'sigma', values: ['0', '0.1'] }));
    const s = await runReport([p], { out: join(work, 'svg-out'), format: 'svg', quiet: true });
    expect(s.files).toEqual([join(work, 'svg-out', 'svg-accuracy-vs-sigma.svg')]);
  });
});
