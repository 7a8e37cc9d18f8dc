import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import { type FaultMap, faultMapToJSON, generateFaultMap, parseFaultSpec, STUCK_AT } from '../../src/faults/index.js';
import { mapFromCsv, mapFromPng, mapsFromJson, mapToCsv, mapToPng } from '../../src/faults/map-file.js';

const draw = (rows: number, cols: number, seed: number): FaultMap =>
  generateFaultMap(
    rows,
    cols,
    parseFaultSpec('random:sa0=0.05,sa1=0.05,stuck-at=0.05,level=0.3+ring:radius=0.3,kind=stuck-at,level=0.7').flatMap((g) => g.patterns),
    new Rng(seed),
  );

describe('defect-map files', () => {
  it('PNG and CSV round-trip a map: kinds exactly, stuck-at levels to 1/254 (PNG) or exactly (CSV)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 0, max: 1000 }),
        (rows, cols, seed) => {
          const m = draw(rows, cols, seed);
          const png = mapFromPng(mapToPng(m), 'x.png');
          const csv = mapFromCsv(mapToCsv(m), 'x.csv');
          for (const back of [png, csv]) {
            expect([back.rows, back.cols]).toEqual([rows, cols]);
            expect(back.kind).toEqual(m.kind);
          }
          expect(csv.level).toEqual(m.level);
          m.level.forEach((l, i) => {
            if (m.kind[i] === STUCK_AT) expect(Math.abs(png.level[i] - l)).toBeLessThanOrEqual(0.5 / 254 + 1e-7);
          });
        },
      ),
      { numRuns: 30 },
    );
  });

  it('reads the JSON forms: one map, a chip layer file (bound to its layer and arrays), a list of stuck cells', () => {
    const m = draw(9, 16, 1);
    const one = mapsFromJson({ format: 'xbar-fault-map', version: 1, map: faultMapToJSON(m) }, 'a.json');
    expect(one?.[0].map.kind).toEqual(m.kind);
    const chip = mapsFromJson(
      { format: 'xbar-fault-map', version: 1, layer: 2, tiles: [{ r0: 0, r1: 9, c0: 0, c1: 8, map: faultMapToJSON(m) }, { map: null }] },
      'b.json',
    );
    expect(chip).toHaveLength(1);
    expect([chip?.[0].layer, chip?.[0].array]).toEqual([2, 0]);
    const list = mapsFromJson(
      {
        format: 'xbar-defect-list',
        arrays: [
          {
            layer: 1,
            rows: 2,
            cols: 3,
            cells: [
              { row: 0, col: 2, kind: 'stuck-on' },
              { row: 1, col: 0, kind: 'stuck-at', level: 0.4 },
            ],
          },
        ],
      },
      'c.json',
    );
    expect(Array.from(list?.[0].map.kind ?? [])).toEqual([0, 0, 1, 3, 0, 0]);
    expect(list?.[0].map.level[3]).toBeCloseTo(0.4, 6);
    expect(mapsFromJson([{ patterns: [] }], 'spec.json')).toBeNull();
  });

  it('a malformed file is one line naming the file and the place', () => {
    expect(() => mapFromPng(new Uint8Array([1, 2, 3]), 'defect map w.png')).toThrow(/^defect map w.png is not a PNG file/);
    const bad = mapToPng(draw(4, 4, 2));
    expect(() => mapFromPng(bad.slice(0, 40), 'defect map w.png')).toThrow(/defect map w.png is a damaged PNG/);
    expect(() => mapFromCsv('0,on\n0,off,0\n', 'defect map w.csv')).toThrow(/line 2 has 3 fields, the first has 2/);
    expect(() => mapFromCsv('0,maybe\n', 'defect map w.csv')).toThrow(/line 1, field 2 is 'maybe'; use 0, on, off or at=<level 0..1>/);
    expect(() =>
      mapsFromJson({ format: 'xbar-defect-list', arrays: [{ rows: 2, cols: 2, cells: [{ row: 5, col: 0, kind: 'stuck-on' }] }] }, 'l.json'),
    ).toThrow(/l.json: arrays\[0\].cells\[0\] must be \{ row: 0..1/);
  });
});
