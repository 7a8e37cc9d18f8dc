import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resnetSpec } from '../../src/nn/presets.js';
import { xbar } from '../xbar-cli.js';

/** End-to-end: a graph network (a small ResNet spec file) trained, evaluated and simulated from the CLI. */
const work = mkdtempSync(join(tmpdir(), 'xbar-graph-'));
const model = join(work, 'resnet');
afterAll(() => rmSync(work, { recursive: true, force: true }));
beforeAll(() => {
  const spec = join(work, 'resnet.json');
  writeFileSync(spec, JSON.stringify(resnetSpec([8, 8, 1], [4, 8, 8], 1, 10)));
  const r = xbar(
    'train',
    '--model',
    spec,
    '--dataset',
    'digits8',
    '--epochs',
    '3',
    '--lr',
    '0.01',
    '--limit-train',
    '1500',
    '--out',
    model,
    '--quiet',
  );
  expect(r.code, r.err).toBe(0);
});

describe('graph networks from the CLI', () => {
  it('simulates an ideal chip at the software accuracy, sweeps sigma and puts faults on one weighted node', () => {
    const saved = JSON.parse(readFileSync(join(model, 'model.json'), 'utf8'));
    expect(saved.spec.nodes.length).toBeGreaterThan(10);
    const ev = xbar('eval', '-m', model, '--limit-test', '200', '--json');
    expect(ev.code, ev.err).toBe(0);
    const software = JSON.parse(ev.out).accuracy;
    const ideal = xbar('simulate', '-m', model, '--limit-test', '200', '--device', 'ideal', '--ideal', '--chips', '1', '--json');
    expect(ideal.code, ideal.err).toBe(0);
    // The chip holds the folded network: same predictions as the batch-normed one on these images.
    expect(JSON.parse(ideal.out)[0].summary.mean).toBeCloseTo(software, 6);
    const sweep = xbar(
      'simulate',
      '-m',
      model,
      '--limit-test',
      '300',
      '--chips',
      '2',
      '--sweep',
      'sigma=0,0.5',
      '--faults',
      'random:sa0=0.05,sa1=0.05@layers=2',
      '--json',
    );
    expect(sweep.code, sweep.err).toBe(0);
    // One row per sigma; the faults' placement per node is tested in test/crossbar/graph.test.ts.
    const points = JSON.parse(sweep.out);
    expect(points).toHaveLength(2);
    expect(points[1].summary.mean).toBeLessThanOrEqual(points[0].summary.mean + 0.05);
    const bad = xbar('simulate', '-m', model, '--limit-test', '100', '--chips', '1', '--faults', 'random:sa0=0.05@layers=40');
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/weighted layers 0\.\.\d+/);
  });
});
