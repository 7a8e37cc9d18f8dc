import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { costKind, extractCost } from '../../src/report/kinds/cost.js';
import { extractSimulate, simulatePlots } from '../../src/report/kinds/simulate.js';
import { renderSVG } from '../../src/report/render.js';
import { xbar } from '../xbar-cli.js';

/** End-to-end: `xbar cost` on every preset, its result file in the report, and its errors. */
const work = mkdtempSync(join(tmpdir(), 'xbar-cost-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe('xbar cost', () => {
  it.each(['mlp-paper', 'mlp', 'lenet5', 'vgg-small'])('costs the %s preset: totals are the sums of the stages', (preset) => {
    const r = xbar('cost', '-m', preset, '--json', '--adc-bits', '6', '--calibration-images', '100');
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.format).toBe('xbar-cost');
    expect(j.trained).toBe(false);
    const c = j.cost;
    expect(c.energyTotal).toBeGreaterThan(0);
    expect(c.energyTotal).toBeCloseTo(sum(c.rows.map((x: { energyTotal: number }) => x.energyTotal)), 18);
    expect(c.latency).toBeCloseTo(sum(c.rows.map((x: { latency: number }) => x.latency)), 15);
    expect(c.pipelineInterval).toBe(Math.max(...c.rows.map((x: { latency: number }) => x.latency)));
    expect(c.topsPerWatt).toBeCloseTo((2 * c.macs) / c.energyTotal / 1e12, 9);
    for (const row of c.rows) expect(row.adcBits).toBe(6);
  });

  it('costs an imported ONNX network', () => {
    const onnx = resolve(import.meta.dirname, '../fixtures/onnx/lenet-op13.onnx');
    const r = xbar('cost', '-m', onnx, '--dataset', 'mnist', '--calibration-images', '100', '--json');
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.trained).toBe(true);
    expect(j.cost.rows.filter((x: { kind: string }) => x.kind === 'conv2d').length).toBeGreaterThan(0);
    expect(j.cost.energyTotal).toBeGreaterThan(0);
  });

  it('prints the table, writes a result the report reads and draws', async () => {
    const out = join(work, 'cost.json');
    const r = xbar('cost', '-m', 'mlp-paper', '--out', out);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/dense 3/);
    expect(r.out).toMatch(/TOPS\/W/);
    const json = JSON.parse(readFileSync(out, 'utf8'));
    expect(json.tech.constants['adc.walden'].source).toMatch(/Kull/);
    const d = extractCost({ file: out, json, maps: [] });
    expect(d.rows).toHaveLength(4);
    const s = costKind.section(d, { id: 'c', maxMaps: 0 });
    expect(s.plots.map((p) => p.id)).toEqual(['energy-breakdown', 'area-breakdown']);
    for (const p of s.plots) {
      const svg = await renderSVG(p.spec, p.id);
      expect(svg.warnings).toEqual([]);
      expect(svg.svg).not.toContain('NaN');
    }
    const rep = xbar('report', out, '-o', join(work, 'r.html'));
    expect(rep.code, rep.err).toBe(0);
  });

  it('costs a programmed chip: stuck-on cells raise the array energy', () => {
    const nominal = JSON.parse(xbar('cost', '-m', 'mlp-paper', '--json').out).cost;
    const r = xbar('cost', '-m', 'mlp-paper', '--json', '--chip', '0', '--faults', 'random:sa1=0.5');
    expect(r.code, r.err).toBe(0);
    const chip = JSON.parse(r.out);
    expect(chip.conductances).toBe('chip 0 of seed 1');
    expect(chip.cost.energy.cells).toBeGreaterThan(nominal.energy.cells);
  });

  it('a technology file changes the constants it names', () => {
    const tech = join(work, 'tech.json');
    writeFileSync(tech, JSON.stringify({ name: 'cheap-adc', adc: { walden: 1e-16 } }));
    const base = JSON.parse(xbar('cost', '-m', 'mlp-paper', '--json', '--adc-bits', '8').out).cost;
    const cheap = JSON.parse(xbar('cost', '-m', 'mlp-paper', '--json', '--adc-bits', '8', '--tech', tech).out).cost;
    expect(cheap.tech).toBe('cheap-adc');
    // At 0.1 fJ/step the Walden term (25.6 fJ at 8 bits) falls below the Schreier floor at 180 dB, which takes over.
    const schreier = 10 ** ((6.02 * 8 + 1.76 - 180) / 10) / 2;
    expect(cheap.energy.adc / base.energy.adc).toBeCloseTo(schreier / (6.5e-15 * 256), 9);
    expect(cheap.energy.dac).toBe(base.energy.dac);
  });

  it('bad input: one line naming the problem, exit 1, no result file', () => {
    const out = join(work, 'never.json');
    const bad = join(work, 'bad.json');
    writeFileSync(bad, JSON.stringify({ adc: { walden: -1 } }));
    for (const [args, msg] of [
      [['--tech', join(work, 'missing.json')], /technology file .* not found/],
      [['--tech', bad], /adc\.walden/],
      [['--faults', 'random:sa0=0.1'], /--chip/],
    ] as const) {
      const r = xbar('cost', '-m', 'mlp-paper', '--out', out, ...args);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(msg);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    }
    expect(existsSync(out)).toBe(false);
  });

  it('simulate --sweep adc-bits records the energy of each point, and the report plots accuracy against it', async () => {
    const model = join(work, 'paper');
    const t = xbar('train', '-m', 'mlp-paper', '--epochs', '1', '--limit-train', '2000', '--limit-test', '200', '--out', model, '--quiet');
    expect(t.code, t.err).toBe(0);
    const out = join(work, 'sweep');
    const r = xbar(
      'simulate',
      '-m',
      model,
      '--sweep',
      'adc-bits=2,4,8',
      '--chips',
      '2',
      '--limit-test',
      '200',
      '--workers',
      '1',
      '--out',
      out,
    );
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/energy\/inference/);
    const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    const energy = json.points.map((p: { cost: { energy: number } }) => p.cost.energy);
    // More ADC bits, more energy per conversion (Walden: 2x per bit).
    expect(energy[0]).toBeLessThan(energy[1]);
    expect(energy[1]).toBeLessThan(energy[2]);
    const d = extractSimulate({ file: 'r.json', json, maps: [] });
    const plot = simulatePlots(d, 0).find((p) => p.id === 'accuracy-vs-energy');
    if (!plot) throw new Error('no accuracy-vs-energy plot');
    const svg = await renderSVG(plot.spec, 'e');
    expect(svg.warnings).toEqual([]);
    expect(svg.svg).not.toContain('NaN');
  });
});
