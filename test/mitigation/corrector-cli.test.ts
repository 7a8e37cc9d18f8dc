import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xbar } from '../xbar-cli.js';

/** End-to-end: `xbar correct` as a user runs it (npm test builds dist/ first). */
const work = mkdtempSync(join(tmpdir(), 'xbar-correct-cli-'));
const model = join(work, 'paper');
const corrector = join(work, 'corrector');
afterAll(() => rmSync(work, { recursive: true, force: true }));
beforeAll(() => {
  const r = xbar(
    'train',
    '--model',
    'mlp-paper',
    '--epochs',
    '2',
    '--limit-train',
    '3000',
    '--limit-test',
    '300',
    '--out',
    model,
    '--quiet',
  );
  expect(r.code, r.err).toBe(0);
});

const small = ['--images-per-chip', '60', '--epochs', '2', '--hidden', '16', '--limit-test', '300', '--threads', '1'];

describe('xbar correct', () => {
  // Several CLI runs (train, eval x 5, faults): minutes on a loaded machine.
  it('trains a corrector, saves it, and evaluates it on held-out chips', () => {
    const r = xbar('correct', 'train', '-m', model, '--train-chips', '20', '--eval-chips', '4', ...small, '--out', corrector, '--json');
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ format: 'xbar-corrector', version: 1, kind: 'train', seed: 1, trainChips: 18, valChips: 2 });
    expect(j.corrector).toMatchObject({ name: 'mlp-16/calib-20', parameters: 10 * 16 + 16 + 16 * 10 + 10 });
    expect(j.heldOut).toMatchObject({ firstChip: 20, heldOutChips: 4 });
    expect(j.heldOut.chips).toBeUndefined();
    // The corrector's price on the chip: its 320 MACs, each with a weight fetched from SRAM (docs/cost.md).
    expect(j.hardwareCost.blocks[0].macs).toBe(10 * 16 + 16 * 10);
    expect(j.hardwareCost.overhead.energy).toBeCloseTo(320 * (0.23e-12 + 8 * 0.15625e-12), 18);
    for (const f of ['corrector.json', 'model.json', 'weights.bin', 'results.json']) expect(existsSync(join(corrector, f))).toBe(true);

    const evalOut = join(work, 'eval');
    const e = xbar('correct', 'eval', '--corrector', corrector, '--chips', '3', '--limit-test', '300', '--json', '--out', evalOut);
    expect(e.code, e.err).toBe(0);
    const ej = JSON.parse(e.out);
    expect(ej).toMatchObject({ format: 'xbar-corrector', kind: 'eval', firstChip: 20, seed: 1, heldOutChips: 3 });
    expect(ej.corrected.n).toBe(3);
    expect(ej.hardwareCost.overhead.energy).toBeCloseTo(j.hardwareCost.overhead.energy, 20);
    // the same held-out chips, with the same answers, as the first ones train tested
    const trained = JSON.parse(readFileSync(join(corrector, 'results.json'), 'utf8')).heldOut.chips;
    const evaluated = JSON.parse(readFileSync(join(evalOut, 'results.json'), 'utf8')).chips;
    expect(evaluated).toEqual(trained.slice(0, 3));

    const text = xbar('correct', 'eval', '--corrector', corrector, '--chips', '2', '--limit-test', '300', '--patterns', 'checkerboard');
    expect(text.code, text.err).toBe(0);
    expect(text.out).toMatch(/corrector mlp-16\/calib-20 on patterns checkerboard/);
    expect(text.out).toMatch(/corrected +\d+\.\d+%/);

    // Any fault spec instead of the population: a gradient plus random faults, and a measured map file.
    const spec = 'row-gradient:density=0.08,kind=stuck-off@layers=1+random:sa1=0.01';
    const any = xbar('correct', 'eval', '--corrector', corrector, '--chips', '2', '--limit-test', '300', '--faults', spec, '--json');
    expect(any.code, any.err).toBe(0);
    const aj = JSON.parse(any.out);
    // The canonical form brackets a term with its own scope (docs/faults.md), so it reads the same under any rule.
    expect(aj.faults).toBe('[row-gradient:min=0,density=0.08,kind=stuck-off,level=0.5@layers=1]+random:sa0=0,sa1=0.01,stuckAt=0,level=0.5');
    expect(aj.heldOutChips).toBe(2);
    const png = join(work, 'wafer.png');
    expect(xbar('faults', '--spec', 'circle:radius=0.4,kind=stuck-on', '--rows', '9', '--cols', '16', '--out', png).code).toBe(0);
    const mapped = xbar('correct', 'eval', '--corrector', corrector, '--chips', '1', '--limit-test', '300', '--faults', `${png}@layers=1`);
    expect(mapped.code, mapped.err).toBe(0);
    expect(mapped.out).toMatch(/on chips with --faults .*wafer.png@layers=1/);
    const wrong = xbar('correct', 'eval', '--corrector', corrector, '--chips', '1', '--faults', `${png}@layers=0`);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/defect map .*wafer.png is 9x16 but layer 0's array 0 .* is 65x16/);
  }, 400_000);

  it('runs a small study and writes its tables', () => {
    const out = join(work, 'study');
    const r = xbar(
      'correct',
      'study',
      '-m',
      model,
      '--train-chips',
      '12',
      '--eval-chips',
      '6',
      ...small.filter((a) => a !== '--hidden' && a !== '16'),
      '--sizes',
      'linear;8',
      '--norms',
      'none,calib',
      '--main-size',
      '8',
      '--calib-sweep',
      '5',
      '--oracle-chips',
      '1',
      '--oracle-images',
      '200',
      '--out',
      out,
      '--quiet',
    );
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/\| linear \| none \| 110 \| 100 \|/);
    expect(r.out).toMatch(/Leave-one-defect-type-out/);
    const j = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(j).toMatchObject({ format: 'xbar-corrector', version: 1, kind: 'study', seed: 1 });
    expect(j.rows.filter((x: { group: string }) => x.group === 'loo').length).toBe(2 * 6);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain('| corrector |');
  });

  it('refuses bad input with one line naming the problem', () => {
    const bad = (args: string[], re: RegExp) => {
      const r = xbar('correct', ...args);
      expect(r.code, r.out + r.err).toBe(1);
      expect(r.err).toMatch(re);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    };
    bad(['train', '-m', join(work, 'nope'), '--out', join(work, 'x')], /no saved model/);
    bad(['train', '-m', model, '--patterns', 'circle,triangle', '--out', join(work, 'x')], /patterns/);
    bad(['train', '-m', model, '--layers', '1;7', '--out', join(work, 'x')], /layer 7.*0\.\.3.*--layers/);
    bad(['train', '-m', model, '--hidden', '16,x', '--out', join(work, 'x')], /--hidden: 'x'/);
    bad(['train', '-m', model, '--hidden-voltages', '3', '--out', join(work, 'x')], /--hidden-voltages 3/);
    bad(['train', '-m', model], /--out is required/);
    bad(
      ['train', '-m', model, '--norm', 'stats', '--norm-images', '0', '--out', join(work, 'x')],
      /'stats' normalisation needs --norm-images/,
    );
    bad(['eval', '--corrector', join(work, 'nope')], /no corrector at/);
    bad(['eval', '--corrector', corrector, '--first-chip', '5'], /overlaps the training chips 0\.\.19/);
    bad(['eval', '--corrector', corrector, '--model', join(work, 'nope')], /no saved model/);
    bad(['study', '-m', model, '--norms', 'none,magic'], /'magic' is not a normalisation/);
    const file = join(work, 'pop.json');
    writeFileSync(file, '{"patterns": ["ring"], "density": {"stuck-on": [0.5, 0.1]}}');
    bad(['train', '-m', model, '--population', file, '--out', join(work, 'x')], /density.stuck-on.*lo <= hi/);
    const usage = xbar('correct', 'train', '-m', model, '--norm', 'magic');
    expect(usage.code).toBe(2);
  }, 300_000);
});
