import { describe, expect, it } from 'vitest';
import { XbarError } from '../../src/core/errors.js';
import { resolveCircuit } from '../../src/crossbar/circuit.js';
import { devicePresetNames, resolveDevice } from '../../src/device/config.js';

describe('device presets', () => {
  it('every preset resolves, with stuck ranges filled in', () => {
    for (const name of devicePresetNames) {
      const d = resolveDevice(name);
      expect(d.gMax).toBeGreaterThan(d.gMin);
      expect(d.stuckOn[0]).toBeGreaterThanOrEqual(d.gMax * (1 - 1e-12));
      expect(d.stuckOff[1]).toBeLessThanOrEqual(d.gMin * (1 + 1e-12));
    }
    const liu = resolveDevice('reram-liu2017');
    expect(liu.levels).toBe(64);
    for (const [got, want] of [
      [liu.gMin, 1e-6],
      [liu.gMax, 300e-6],
      [liu.stuckOn[0], 300e-6],
      [liu.stuckOn[1], 1200e-6],
      [liu.stuckOff[0], 0.01e-6],
    ])
      expect(got).toBeCloseTo(want, 12);
    const gen = resolveDevice('reram-generic');
    expect(gen.gMax).toBeCloseTo(100e-6, 12);
    expect(gen.programSigma).toBe(0.1);
    expect(resolveDevice('ideal').programSigma).toBe(0);
  });

  it('takes overrides and JSON devices', () => {
    expect(resolveDevice('reram-generic', { programSigma: 0.3, levels: 16 })).toMatchObject({ programSigma: 0.3, levels: 16 });
    expect(resolveDevice({ gMin: 2e-6, gMax: 50e-6, readNoise: 0.02 }).readNoise).toBe(0.02);
  });

  it('refuses impossible devices with one line naming the field', () => {
    const bad: [string | object, RegExp][] = [
      ['memristor', /unknown device preset 'memristor': use one of ideal, reram-generic, reram-liu2017/],
      [{ gMin: 1e-4, gMax: 1e-6 }, /gMax .* must be above gMin/],
      [{ gMin: -1, gMax: 1e-6 }, /gMin/],
      [{ gMin: 1e-6, gMax: 1e-4, programSigma: -0.1 }, /programSigma/],
      [{ gMin: 1e-6, gMax: 1e-4, levels: 1 }, /levels/],
      [{ gMin: 1e-6, gMax: 1e-4, colour: 'red' }, /colour/],
    ];
    for (const [input, re] of bad) {
      let err: unknown;
      try {
        resolveDevice(input as never);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(XbarError);
      expect((err as Error).message).toMatch(re);
      expect((err as Error).message).not.toContain('\n');
    }
  });
});

describe('circuit config', () => {
  it('has defaults and refuses bad values', () => {
    expect(resolveCircuit({})).toMatchObject({ arrayRows: 128, arrayCols: 128, dacBits: 0, adcBits: 0, saturate: true, wireResistance: 0 });
    expect(() => resolveCircuit({ arrayRows: 1 })).toThrow(/arrayRows/);
    expect(() => resolveCircuit({ wireResistance: -1 })).toThrow(/wireResistance/);
    expect(() => resolveCircuit({ adcBits: 40 })).toThrow(/adcBits/);
  });
});
