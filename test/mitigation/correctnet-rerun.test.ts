import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { xbar } from '../xbar-cli.js';

/**
 * `xbar correctnet` re-run into the same --out: every reused step (the trained networks, the
 * sweeps, sensitivities, placements, compensation) is keyed by its inputs' checksums and options,
 * so a re-run with another option recomputes exactly what depends on it and reuses the rest.
 */
const work = mkdtempSync(join(tmpdir(), 'xbar-cn-rerun-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const out = join(work, 'cn');
const base = [
  'correctnet',
  '--out',
  out,
  '--limit-train',
  '1000',
  '--limit-test',
  '100',
  '--plain-epochs',
  '1',
  '--finetune-epochs',
  '1',
  '--sigmas',
  '0,0.6',
  '--target-sigma',
  '0.6',
  '--chips',
  '2',
  '--budget',
  '0.5',
  '--ranks',
  '1',
  '--comp-epochs',
  '1',
  '--episodes',
  '8',
  '--search',
  'rl',
  '--search-train',
  '100',
  '--search-chips',
  '1',
  '--val-images',
  '50',
  '--workers',
  '1',
  '--kernels',
  'js',
];
const run = (...extra: string[]) => {
  const r = xbar(...base, '--model', 'mlp-paper', ...extra);
  expect(r.code, r.err).toBe(0);
  return r.err;
};
const results = () => JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
const meta = (dir: string) => JSON.parse(readFileSync(join(out, dir, 'model.json'), 'utf8'));

describe('xbar correctnet re-run into the same --out', () => {
  it('reuses every step when the options are the same', () => {
    run();
    const table = readFileSync(join(out, 'table.md'), 'utf8');
    const log = run();
    expect(log).not.toMatch(/training/);
    for (const step of [
      'plain',
      'noise-injection',
      'lipschitz',
      'lipschitz\\+comp',
      'noise\\+comp',
      'placement',
      'sensitivity',
      'amplification',
    ])
      expect(log).toMatch(new RegExp(`^${step}: reusing`, 'm'));
    expect(log).toMatch(/^sweep noise: reusing/m);
    expect(readFileSync(join(out, 'table.md'), 'utf8')).toBe(table);
  });

  it('another --lambda retrains the Lipschitz network and everything after it, not the others', () => {
    expect(results().options.lambda).toBe(0.01);
    const placed = () => JSON.stringify(results().placement.chosen.sites);
    const placementBefore = placed();
    const log = run('--lambda', '0.5');
    expect(log).toMatch(/^lipschitz: training into/m);
    expect(log).toMatch(/^plain: reusing/m);
    expect(log).toMatch(/^noise-injection: reusing/m);
    expect(log).not.toMatch(/^placement: reusing/m);
    expect(log).not.toMatch(/^sensitivity: reusing/m);
    expect(log).not.toMatch(/^lipschitz\+comp: reusing/m);
    // noise+comp depends on the placement alone: reused if the new search placed the same modules.
    if (placed() === placementBefore) expect(log).toMatch(/^noise\+comp: reusing/m);
    else expect(log).toMatch(/^noise\+comp: training/m);
    expect(meta('lipschitz').meta.lipschitz.lambda).toBe(0.5);
    expect(results().options.lambda).toBe(0.5);
  });

  it('another --noise-sigma retrains only the noise-injection side', () => {
    const log = run('--lambda', '0.5', '--noise-sigma', '0.3');
    expect(log).toMatch(/^noise-injection: training into/m);
    expect(log).toMatch(/^lipschitz: reusing/m);
    expect(log).toMatch(/^placement: reusing/m);
    expect(log).not.toMatch(/^noise\+comp: reusing/m);
    expect(meta('noise').meta.noiseInjection.sigma).toBe(0.3);
  });

  it('another --finetune-epochs retrains both fine-tuned networks', () => {
    const log = run('--finetune-epochs', '2');
    expect(log).toMatch(/^noise-injection: training into/m);
    expect(log).toMatch(/^lipschitz: training into/m);
    expect(meta('noise').meta.training.epochs).toBe(2);
    expect(meta('lipschitz').meta.training.epochs).toBe(2);
  });

  it('another --model retrains the plain network and everything from it', () => {
    const spec = join(work, 'wider.json');
    writeFileSync(
      spec,
      JSON.stringify({
        inputShape: [8, 8, 1],
        layers: [
          { type: 'flatten' },
          { type: 'dense', units: 12 },
          { type: 'activation', fn: 'relu' },
          { type: 'dense', units: 8 },
          { type: 'activation', fn: 'relu' },
          { type: 'dense', units: 8 },
          { type: 'activation', fn: 'relu' },
          { type: 'dense', units: 10 },
        ],
      }),
    );
    const r = xbar(...base, '--model', spec, '--dataset', 'digits8');
    expect(r.code, r.err).toBe(0);
    expect(r.err).not.toMatch(/reusing/);
    expect(meta('plain').spec.layers[1].units).toBe(12);
    expect(meta('lipschitz').spec.layers[1].units).toBe(12);
    expect(meta('lipschitz-comp').spec.layers[1].units).toBe(12);
  });
});
