import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { XbarError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import {
  describeFaultLayers,
  faultMapFromJSON,
  faultMapsToSVG,
  faultMapToJSON,
  faultSpecFromJSON,
  formatFaultSpec,
  generateFaultMap,
  parseFaultSpec,
  patternSchema,
} from '../../src/faults/index.js';
import { loadFaultSpec } from '../../src/faults/node.js';

// -0 + 0 is 0: the text form has no negative zero.
const num = (max: number) => fc.double({ min: 0, max, noNaN: true }).map((x) => x + 0);
const dir = mkdtempSync(join(tmpdir(), 'xbar-faults-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fault spec text form', () => {
  it('parses terms, parameters, kinds and layers', () => {
    const s = parseFaultSpec('random:sa0=0.0175,sa1=0.0904+[circle:radius=0.2,kind=stuck-off,density=0.5@layers=0,2]');
    expect(s).toHaveLength(2);
    expect(s[0].layers).toBe('all');
    expect(s[0].patterns[0]).toMatchObject({ pattern: 'random', sa0: 0.0175, sa1: 0.0904, stuckAt: 0 });
    expect(s[1].layers).toEqual([0, 2]);
    expect(s[1].patterns[0]).toMatchObject({ pattern: 'circle', radius: 0.2, kind: 'stuck-off', density: 0.5, cx: 0.5, cy: 0.5 });
    expect(parseFaultSpec('checkerboard')[0].patterns[0]).toMatchObject({ pattern: 'checkerboard', block: 1, density: 1 });
    expect(parseFaultSpec('random:stuck-at=0.1,level=0.2')[0].patterns[0]).toMatchObject({ stuckAt: 0.1, level: 0.2 });
  });

  it('formats back to a text that parses to the same spec (property)', () => {
    const term = fc.oneof(
      fc.record({ pattern: fc.constant('random' as const), sa0: num(0.5), sa1: num(0.5) }),
      fc.record({
        pattern: fc.constant('circle' as const),
        cx: num(1),
        radius: num(2).filter((r) => r > 0),
        kind: fc.constantFrom('stuck-on' as const, 'stuck-off' as const, 'stuck-at' as const),
      }),
      fc.record({ pattern: fc.constant('circle-complement' as const), cx: num(1), radius: num(0.7) }),
      fc.record({ pattern: fc.constant('rows' as const), from: num(0.2), every: fc.integer({ min: 1, max: 9 }) }),
    );
    const group = fc.record({
      patterns: fc.array(term, { minLength: 1, maxLength: 3 }),
      layers: fc.oneof(fc.constant('all' as const), fc.uniqueArray(fc.nat(5), { minLength: 1, maxLength: 3 })),
    });
    fc.assert(
      fc.property(fc.array(group, { minLength: 1, maxLength: 3 }), (groups) => {
        const spec = faultSpecFromJSON(groups);
        const back = parseFaultSpec(formatFaultSpec(spec));
        // Grouping may differ (it does not change a chip): every pattern, in order, on the same layers.
        const flat = (s: typeof spec) => s.flatMap((g) => g.patterns.map((p) => ({ p, layers: g.layers })));
        expect(flat(back)).toEqual(flat(spec));
      }),
      { numRuns: 200 },
    );
  });

  it('scopes a final @layers to the whole spec, as docs/faults.md reads, and brackets to one group', () => {
    const layersOf = (text: string) => parseFaultSpec(text).flatMap((g) => g.patterns.map((p) => [p.pattern, g.layers]));
    // The docs' example: both terms on layers 1 and 2 (it put the ring on every layer before).
    expect(layersOf('ring:radius=0.3,width=0.1+columns:from=0.5,to=0.6@layers=1,2')).toEqual([
      ['ring', [1, 2]],
      ['columns', [1, 2]],
    ]);
    expect(layersOf('[ring:radius=0.3@layers=0]+columns:from=0.5,to=0.6')).toEqual([
      ['ring', [0]],
      ['columns', 'all'],
    ]);
    expect(layersOf('[ring+rows@layers=0]+[columns@layers=2,3]')).toEqual([
      ['ring', [0]],
      ['rows', [0]],
      ['columns', [2, 3]],
    ]);
    // Unambiguous old forms keep their meaning: a scope followed by '+' is its own term's.
    expect(layersOf('circle@layers=0+rows')).toEqual([
      ['circle', [0]],
      ['rows', 'all'],
    ]);
    expect(layersOf('circle@layers=0+rows@layers=1')).toEqual([
      ['circle', [0]],
      ['rows', [1]],
    ]);
    expect(layersOf('[circle@layers=0]+rows+columns@layers=2')).toEqual([
      ['circle', [0]],
      ['rows', [2]],
      ['columns', [2]],
    ]);
    expect(() => parseFaultSpec('circle@layers=0+rows+columns@layers=2')).toThrow(/ambiguous.*bracket/);
    expect(formatFaultSpec(parseFaultSpec('circle+rows@layers=1'))).toMatch(/^circle:[^@[]*\+rows:[^@]*@layers=1$/);
    expect(formatFaultSpec(parseFaultSpec('[circle@layers=0]+rows'))).toMatch(/^\[circle:.*@layers=0\]\+rows:/);
    expect(describeFaultLayers(parseFaultSpec('[ring@layers=0]+columns'), 3)).toEqual(['ring on layer 0', 'columns on layers 0,1,2 (all)']);
  });

  it('refuses rates past 1, empty specs and empty regions, one line each', () => {
    const bad: [unknown, RegExp][] = [
      ['random:sa0=0.6,sa1=0.6', /add up to more than 1/],
      ['random:sa0=0.5,sa1=0.3,stuck-at=0.3', /add up to more than 1/],
      ['', /empty: to simulate without faults leave --faults out/],
      ['   ', /empty/],
      ['rows:from=0.5,to=0.2', /band is empty/],
      ['columns:from=0.4,to=0.4', /band is empty/],
      ['ring:width=0', /width 0 is empty/],
      ['circle:radius=0', /radius 0 is empty/],
      ['circle-complement:radius=1.5', /complement is empty/],
      [42, /fault spec is text.*not number/],
      [null, /not null/],
      ['[circle', /'\[' without its '\]'/],
      ['circle]', /'\]' without its '\['/],
      ['[circle]@layers=0', /scope inside its brackets/],
    ];
    for (const [text, re] of bad) {
      let err: unknown;
      try {
        parseFaultSpec(text as string);
      } catch (e) {
        err = e;
      }
      expect(err, String(text)).toBeInstanceOf(XbarError);
      expect((err as Error).message, String(text)).toMatch(re);
      expect((err as Error).message).not.toContain('\n');
    }
    expect(() => faultSpecFromJSON([])).toThrow(/empty/);
    expect(() => faultSpecFromJSON({ patterns: [{ pattern: 'random', sa1: 0.9, sa0: 0.2 }] })).toThrow(/more than 1/);
  });

  it('names the problem in one line for bad specs', () => {
    const bad: [string, RegExp][] = [
      ['blob:radius=0.2', /pattern 'blob' is unknown: use one of random, circle/],
      ['circle:radius', /'radius' must look like key=value/],
      ['circle:radius=big', /radius=big is not a number/],
      ['circle:radius=0.1,radius=0.2', /sets 'radius' twice/],
      ['circle:wobble=1', /wobble/],
      ['random:sa0=2', /sa0/],
      ['circle:kind=stuck-sideways', /kind/],
      ['circle@layers=x', /layer 'x' is not a layer index/],
      ['circle@rows=1', /after '@' write layers=/],
      ['circle++rows', /empty term/],
      ['circle@layers=1@layers=2', /more than one '@'/],
    ];
    for (const [text, re] of bad) {
      let err: unknown;
      try {
        parseFaultSpec(text);
      } catch (e) {
        err = e;
      }
      expect(err, text).toBeInstanceOf(XbarError);
      expect((err as Error).message, text).toMatch(re);
      expect((err as Error).message).not.toContain('\n');
    }
  });

  it('loads a JSON spec file, with clear errors for broken ones', () => {
    const ok = join(dir, 'ok.json');
    writeFileSync(ok, JSON.stringify([{ patterns: [{ pattern: 'ring', radius: 0.3 }], layers: [1] }]));
    expect(loadFaultSpec(ok)[0]).toMatchObject({ layers: [1], patterns: [{ pattern: 'ring', radius: 0.3, width: 0.1 }] });
    const single = join(dir, 'single.json');
    writeFileSync(single, JSON.stringify({ patterns: [{ pattern: 'columns' }] }));
    expect(loadFaultSpec(single)[0].layers).toBe('all');
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '[{"patterns": [');
    expect(() => loadFaultSpec(broken)).toThrow(/is not valid JSON/);
    const wrong = join(dir, 'wrong.json');
    writeFileSync(wrong, JSON.stringify([{ patterns: [{ pattern: 'circle', radius: -1 }] }]));
    expect(() => loadFaultSpec(wrong)).toThrow(/fault spec file .*wrong.json is invalid: 0.patterns.0.radius/);
    expect(() => loadFaultSpec(join(dir, 'missing.json'))).toThrow(/not found/);
  });
});

describe('fault map files', () => {
  const map = generateFaultMap(
    12,
    20,
    [patternSchema.parse({ pattern: 'random', sa0: 0.1, sa1: 0.1, stuckAt: 0.1, level: 0.75 }), patternSchema.parse({ pattern: 'ring' })],
    new Rng(2),
  );

  it('JSON round-trips exactly', () => {
    const json = JSON.parse(JSON.stringify(faultMapToJSON(map)));
    const back = faultMapFromJSON(json);
    expect(back.kind).toEqual(map.kind);
    expect(back.level).toEqual(map.level);
    expect(json.cells[0]).toMatch(/^[0-3]{20}$/);
  });

  it('rejects corrupt JSON maps', () => {
    const json = faultMapToJSON(map);
    expect(() => faultMapFromJSON({ ...json, rows: 11 })).toThrow(XbarError);
    expect(() => faultMapFromJSON({ ...json, cells: json.cells.map((s, i) => (i === 3 ? `${s.slice(1)}9` : s)) })).toThrow(
      /row 3 must be 20 digits/,
    );
    expect(() => faultMapFromJSON({ ...json, stuckAt: [[0, 0, 2]] })).toThrow(/stuckAt entry/);
  });

  it('draws an SVG with one rectangle per run of faulty cells and a legend', () => {
    const svg = faultMapsToSVG(
      [
        { map, x: 0, y: 0 },
        { map, x: 22, y: 0 },
      ],
      { title: 'layer <0>' },
    );
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('layer &lt;0&gt;');
    for (const k of ['stuck-on', 'stuck-off', 'stuck-at']) expect(svg).toContain(k);
    const rects = (svg.match(/<rect /g) ?? []).length;
    const faulty = map.kind.filter(Boolean).length;
    // 2 frames + 3 legend squares + at most one rectangle per faulty cell, per copy
    expect(rects).toBeGreaterThan(5);
    expect(rects).toBeLessThanOrEqual(5 + 2 * faulty);
  });
});

describe('defect-map files as terms of the text form', () => {
  // A reader that hands back one small map per file name, so the grammar is tested without files.
  const read = (path: string) => [
    { map: generateFaultMap(4, 6, [patternSchema.parse({ pattern: 'random', sa1: 0.5 })], new Rng(path.length)) },
  ];
  const scopes = (text: string) =>
    parseFaultSpec(text, read).map((g) => [g.maps ? g.maps.source : g.patterns.map((p) => p.pattern).join('+'), g.layers]);

  it('follow the same scope rules as patterns', () => {
    expect(scopes('wafer.png@layers=0+random:sa1=0.001')).toEqual([
      ['wafer.png', [0]],
      ['random', 'all'],
    ]);
    expect(scopes('[wafer.csv+ring:radius=0.3@layers=1]+random:sa1=0.001')).toEqual([
      ['ring', [1]],
      ['wafer.csv', [1]],
      ['random', 'all'],
    ]);
    expect(scopes('wafer.png+random:sa1=0.001@layers=2')).toEqual([
      ['wafer.png', [2]],
      ['random', [2]],
    ]);
  });

  it('print back to a spec that parses to the same groups', () => {
    for (const text of ['wafer.png@layers=0+random:sa1=0.001', '[a.csv+ring@layers=1]+b.json+rows:from=0.2@layers=0,2', 'x.PNG'])
      expect(scopes(formatFaultSpec(parseFaultSpec(text, read)))).toEqual(scopes(text));
  });

  it('need a reader: where no file can be read the term is refused in one line', () => {
    expect(() => parseFaultSpec('wafer.png+random:sa1=0.01')).toThrow(/fault term 'wafer.png' names a defect-map file/);
  });
});
