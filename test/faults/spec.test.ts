import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { XbarError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import {
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
    const s = parseFaultSpec('random:sa0=0.0175,sa1=0.0904+circle:radius=0.2,kind=stuck-off,density=0.5@layers=0,2');
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
      fc.record({ pattern: fc.constant('random' as const), sa0: num(1), sa1: num(1) }),
      fc.record({
        pattern: fc.constantFrom('circle' as const, 'circle-complement' as const),
        cx: num(1),
        radius: num(2),
        kind: fc.constantFrom('stuck-on' as const, 'stuck-off' as const, 'stuck-at' as const),
      }),
      fc.record({ pattern: fc.constant('rows' as const), from: num(1), every: fc.integer({ min: 1, max: 9 }) }),
    );
    const group = fc.record({
      patterns: fc.array(term, { minLength: 1, maxLength: 3 }),
      layers: fc.oneof(fc.constant('all' as const), fc.uniqueArray(fc.nat(5), { minLength: 1, maxLength: 3 })),
    });
    fc.assert(
      fc.property(fc.array(group, { minLength: 1, maxLength: 3 }), (groups) => {
        const spec = faultSpecFromJSON(groups);
        const back = parseFaultSpec(formatFaultSpec(spec));
        // Groups of several patterns come back as one group per pattern with the same layers.
        const flat = spec.flatMap((g) => g.patterns.map((p) => ({ patterns: [p], layers: g.layers })));
        expect(back).toEqual(flat);
      }),
      { numRuns: 200 },
    );
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
