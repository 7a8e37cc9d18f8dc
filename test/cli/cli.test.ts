import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { xbar } from '../xbar-cli.js';

/** End-to-end: the built `xbar` command as a user runs it (npm test builds dist/ first). */
const work = mkdtempSync(join(tmpdir(), 'xbar-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('xbar train / eval', () => {
  const out = join(work, 'paper');
  it('trains, saves, and evaluates a model; the same seed reproduces it', () => {
    const args = [
      'train',
      '--model',
      'mlp-paper',
      '--epochs',
      '3',
      '--limit-train',
      '4000',
      '--limit-test',
      '1000',
      '--seed',
      '5',
      '--json',
    ];
    const r = xbar(...args, '--out', out);
    expect(r.code, r.err).toBe(0);
    const summary = JSON.parse(r.out);
    expect(summary.dataset).toBe('digits8');
    expect(summary.testAccuracy).toBeGreaterThan(0.6);
    expect(readdirSync(out).sort()).toEqual(['manifest.json', 'model.json', 'weights.bin']);

    const again = JSON.parse(xbar(...args).out);
    expect(again.testAccuracy).toBe(summary.testAccuracy);

    const e = xbar('eval', '--model', out, '--limit-test', '1000', '--json');
    expect(e.code, e.err).toBe(0);
    const ev = JSON.parse(e.out);
    expect(ev.accuracy).toBe(summary.testAccuracy);
    expect(ev.confusion.flat().reduce((a: number, b: number) => a + b, 0)).toBe(1000);
  });

  it('prints one line per epoch when not a terminal, nothing with --quiet', () => {
    const r = xbar('train', '--model', 'mlp-paper', '--epochs', '2', '--limit-train', '500', '--limit-test', '100');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/epoch 1\/2 .*loss/);
    expect(r.err).toMatch(/epoch 2\/2 /);
    expect(r.out).toMatch(/test accuracy \d+\.\d+%/);
    const q = xbar('train', '--model', 'mlp-paper', '--epochs', '1', '--limit-train', '500', '--limit-test', '100', '--quiet');
    expect(q.err).toBe('');
  });
});

describe('bad input gets one clear line and a non-zero exit', () => {
  const cases: [string, string[], RegExp][] = [
    ['unknown preset', ['train', '--model', 'resnet'], /unknown model preset 'resnet'/],
    ['unknown dataset', ['train', '--model', 'mlp', '--dataset', 'cifar'], /unknown dataset 'cifar'/],
    ['non-numeric epochs', ['train', '--model', 'mlp', '--epochs', 'ten'], /--epochs.*whole number/],
    ['negative learning rate', ['train', '--model', 'mlp', '--lr', '-1'], /--lr.*expected a number/],
    ['unknown option', ['train', '--model', 'mlp', '--epoch', '3'], /unknown option '--epoch'/],
    ['missing model folder', ['eval', '--model', '/nonexistent/model'], /no saved model at \/nonexistent\/model/],
    ['missing data dir', ['train', '--model', 'mlp', '--data-dir', '/nonexistent/data'], /nonexistent\/data/],
    ['model/dataset mismatch', ['train', '--model', 'mlp', '--dataset', 'digits8'], /expects 28x28x1 inputs.*8x8x1/],
  ];
  for (const [what, args, msg] of cases) {
    it(what, () => {
      const r = xbar(...args);
      expect(r.code).not.toBe(0);
      expect(r.err).toMatch(msg);
      expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
    });
  }

  it('a corrupt data file is named in the error and nothing is written', () => {
    const data = join(work, 'bad-data');
    rmSync(data, { recursive: true, force: true });
    const mk = (name: string, bytes: number[]) => writeFileSync(join(data, name), Buffer.from(bytes));
    mkdirSync(data, { recursive: true });
    mk('train-images-idx3-ubyte', [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2, 3]);
    mk('train-labels-idx1-ubyte', [0, 0, 8, 1, 0, 0, 0, 2, 1, 2]);
    mk('t10k-images-idx3-ubyte', [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2, 3]);
    mk('t10k-labels-idx1-ubyte', [0, 0, 8, 1, 0, 0, 0, 2, 1, 2]);
    const out = join(work, 'never');
    const r = xbar('train', '--model', 'mlp', '--data-dir', data, '--out', out);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/train-images-idx3-ubyte.*truncated/);
    expect(existsSync(out)).toBe(false);
  });
});
