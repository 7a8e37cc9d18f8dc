import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xbar } from '../xbar-cli.js';

/**
 * Re-runs into an existing --out as a user makes them: a run's folder is whole (its own files and
 * no other), and the readers (report, eval, correct eval) refuse a folder whose files do not
 * belong to one run, with one line.
 */
const work = mkdtempSync(join(tmpdir(), 'xbar-rerun-'));
const model = join(work, 'paper');
afterAll(() => rmSync(work, { recursive: true, force: true }));
beforeAll(() => {
  const r = xbar(
    'train',
    '--model',
    'mlp-paper',
    '--epochs',
    '2',
    '--limit-train',
    '1000',
    '--limit-test',
    '200',
    '--out',
    model,
    '--quiet',
  );
  expect(r.code, r.err).toBe(0);
});
const sim = ['simulate', '-m', model, '--chips', '3', '--limit-test', '100', '--workers', '1', '--quiet'];
const oneLine = (r: { code: number | null; err: string }, pattern: RegExp) => {
  expect(r.code).toBe(1);
  expect(r.err.trim().split('\n')).toHaveLength(1);
  expect(r.err).toMatch(pattern);
};

describe('re-runs into the same --out', () => {
  it('simulate without faults after one with faults leaves no defect maps of the first run', () => {
    const out = join(work, 'sim');
    expect(xbar(...sim, '--faults', 'random:sa0=0.1', '--out', out).code).toBe(0);
    expect(existsSync(join(out, 'maps'))).toBe(true);
    const r = xbar(...sim, '--out', out);
    expect(r.code, r.err).toBe(0);
    expect(existsSync(join(out, 'maps'))).toBe(false);
    expect(readdirSync(out).sort()).toEqual(['chips.csv', 'manifest.json', 'results.json', 'summary.csv']);
    // Nothing left beside it: no staging folder, no lock.
    expect(readdirSync(work).filter((f) => f.startsWith('.'))).toEqual([]);
    expect(xbar('report', out, '--out', join(work, 'r.html'), '--quiet').code).toBe(0);
  });

  it('report refuses a folder holding files of two runs, with one line', () => {
    const a = join(work, 'sim-a');
    const b = join(work, 'sim-b');
    expect(xbar(...sim, '--faults', 'random:sa0=0.1', '--out', a).code).toBe(0);
    expect(xbar(...sim, '--sigma', '0.5', '--out', b).code).toBe(0);
    mkdirSync(join(b, 'maps'));
    copyFileSync(join(a, 'maps', 'chip-0-layer-0.json'), join(b, 'maps', 'chip-0-layer-0.json'));
    oneLine(
      xbar('report', b, '--out', join(work, 'r.html')),
      /do not belong to one run \(maps\/chip-0-layer-0.json is not one of the run's files\)/,
    );
    rmSync(join(b, 'maps'), { recursive: true });
    copyFileSync(join(a, 'chips.csv'), join(b, 'chips.csv'));
    oneLine(xbar('report', join(b, 'results.json'), '--out', join(work, 'r.html')), /chips.csv changed after the run wrote it/);
  });

  it('eval and correct eval refuse a model or corrector folder mixed with another run', () => {
    const other = join(work, 'other');
    expect(xbar('train', '--model', 'mlp-paper', '--epochs', '1', '--limit-train', '500', '--out', other, '--quiet').code).toBe(0);
    const mixed = join(work, 'mixed');
    expect(xbar('train', '--model', 'mlp-paper', '--epochs', '2', '--limit-train', '500', '--out', mixed, '--quiet').code).toBe(0);
    copyFileSync(join(other, 'weights.bin'), join(mixed, 'weights.bin'));
    oneLine(xbar('eval', '-m', mixed), /mixed: its files do not belong to one run \(weights.bin changed after the run wrote it\)/);
    const corrector = join(work, 'corrector');
    const t = xbar(
      'correct',
      'train',
      '-m',
      model,
      '--train-chips',
      '4',
      '--eval-chips',
      '0',
      '--images-per-chip',
      '20',
      '--epochs',
      '1',
      '--hidden',
      '4',
      '--limit-test',
      '100',
      '--out',
      corrector,
      '--quiet',
    );
    expect(t.code, t.err).toBe(0);
    writeFileSync(join(corrector, 'results.json'), '{}');
    oneLine(
      xbar('correct', 'eval', '--corrector', corrector, '--chips', '1', '--limit-test', '50'),
      /corrector: its files do not belong to one run \(results.json changed after the run wrote it\)/,
    );
  });

  it('checks --out before any work: a file, a special file system, the model itself', () => {
    const file = join(work, 'a-file');
    writeFileSync(file, 'x');
    // 100000 epochs or a million chips would take hours: the refusal must come first (a minute
    // allows for a loaded machine).
    const timed = (...args: string[]) => {
      const t0 = performance.now();
      const r = xbar(...args);
      expect(performance.now() - t0).toBeLessThan(60_000);
      return r;
    };
    oneLine(timed('train', '--model', 'mlp-paper', '--epochs', '100000', '--out', file), /--out .*a-file is a file, not a folder/);
    oneLine(timed('train', '--model', 'mlp-paper', '--epochs', '100000', '--out', '/proc/xbar'), /special file system/);
    oneLine(timed(...sim, '--chips', '1000000', '--out', file), /is a file, not a folder/);
    oneLine(timed(...sim, '--out', model), /holds the input/);
  });
});
