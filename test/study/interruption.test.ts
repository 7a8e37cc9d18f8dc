import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileSha256, listFiles, verifyRunFolder } from '../../src/core/run-manifest.js';
import { buildReport } from '../../src/report/index.js';

/**
 * Interrupting a run into a folder that holds an older complete run: whenever the kill comes
 * (SIGKILL, or SIGINT as Ctrl-C sends it), the folder afterwards holds exactly the old run or
 * exactly the new one, never a mix, and `report` reads it; the interrupted run, started again,
 * ends as an uninterrupted one does.
 */
const bin = resolve(import.meta.dirname, '../../dist/cli/main.js');
const env = { ...process.env, FORCE_COLOR: '0' };
/** Runs xbar (asynchronously: the cases run side by side, each mostly waiting on its child). */
const xbar = (...args: string[]): Promise<{ code: number | null; err: string }> =>
  new Promise((done) => {
    const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('close', (code) => done({ code, err }));
  });
const work = mkdtempSync(join(tmpdir(), 'xbar-interrupt-'));
const model = join(work, 'paper');
afterAll(() => rmSync(work, { recursive: true, force: true }));
beforeAll(async () => {
  const r = await xbar(
    'train',
    '--model',
    'mlp-paper',
    '--epochs',
    '3',
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

/** Every file of a folder with its checksum. */
const snapshot = (dir: string) => Object.fromEntries(listFiles(dir).map((f) => [f, fileSha256(join(dir, f))]));
const manifest = (dir: string) => JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));

/** Runs `args` and kills it with `signal` after `ms`; resolves when it has ended. */
function killAfter(args: string[], signal: NodeJS.Signals, ms: number): Promise<void> {
  const child = spawn(process.execPath, [bin, ...args], { env, stdio: 'ignore' });
  const timer = setTimeout(() => child.kill(signal), ms);
  return new Promise((r) =>
    child.on('exit', () => {
      clearTimeout(timer);
      r();
    }),
  );
}

interface Case {
  name: string;
  /** The command's arguments without --out. */
  old: string[];
  new: string[];
  /** Whether `report` reads its folder. */
  report: boolean;
  /** Files that must be byte for byte those of an uninterrupted run (the rest carry times and dates). */
  sameFiles: string[];
  /** What else must be equal between the resumed run and an uninterrupted one (from results.json). */
  same?: (results: Record<string, unknown>) => unknown;
}

const cases: Case[] = [
  {
    name: 'train',
    old: ['train', '--model', 'mlp-paper', '--epochs', '2', '--limit-train', '1000', '--limit-test', '100', '--quiet'],
    new: ['train', '--model', 'mlp-paper', '--epochs', '8', '--limit-train', '1500', '--limit-test', '100', '--quiet'],
    report: false,
    sameFiles: ['weights.bin'],
  },
  {
    name: 'simulate',
    old: [
      'simulate',
      '-m',
      model,
      '--chips',
      '4',
      '--limit-test',
      '100',
      '--faults',
      'random:sa0=0.1',
      '--sweep',
      'sigma=0,0.5',
      '--quiet',
    ],
    new: ['simulate', '-m', model, '--chips', '6', '--limit-test', '150', '--sweep', 'sigma=0,0.2,0.4,0.6', '--workers', '1', '--quiet'],
    report: true,
    sameFiles: ['chips.csv'],
  },
  {
    name: 'correct train',
    old: [
      'correct',
      'train',
      '-m',
      model,
      '--train-chips',
      '4',
      '--eval-chips',
      '2',
      '--images-per-chip',
      '20',
      '--epochs',
      '1',
      '--hidden',
      '4',
    ],
    new: [
      'correct',
      'train',
      '-m',
      model,
      '--train-chips',
      '8',
      '--eval-chips',
      '2',
      '--images-per-chip',
      '30',
      '--epochs',
      '2',
      '--hidden',
      '8',
    ],
    report: true,
    sameFiles: ['weights.bin'],
  },
  {
    name: 'correctnet',
    old: [],
    new: [],
    report: true,
    sameFiles: ['plain/weights.bin', 'lipschitz/weights.bin', 'noise-comp/weights.bin', 'rl-curve.csv'],
    same: (r) => ({
      headline: r.headline,
      accuracies: (r.methods as { sweep: { accuracies: number[] }[] }[]).map((m) => m.sweep.map((p) => p.accuracies)),
    }),
  },
];
const correctnet = (lambda: string) => [
  'correctnet',
  '--model',
  'mlp-paper',
  '--limit-train',
  '1000',
  '--limit-test',
  '100',
  '--plain-epochs',
  '1',
  '--finetune-epochs',
  '1',
  '--lambda',
  lambda,
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
  '--quiet',
];
cases[3].old = correctnet('0.01');
cases[3].new = correctnet('0.5');

describe('an interrupted run leaves the old run or the new one, never a mix', () => {
  for (const c of cases)
    it.concurrent(c.name, async ({ expect }) => {
      const out = join(work, c.name.replace(' ', '-'));
      const reference = join(work, `${c.name.replace(' ', '-')}-reference`);
      expect((await xbar(...c.old, '--out', out)).code).toBe(0);
      const old = snapshot(out);
      const t0 = performance.now();
      const ref = await xbar(...c.new, '--out', reference);
      expect(ref.code, ref.err).toBe(0);
      const duration = performance.now() - t0;
      // The run's files apart from steps/ (a resumed run also keeps the step records of the runs before it).
      const runFiles = (dir: string) =>
        Object.keys(manifest(dir).files)
          .filter((f) => !f.startsWith('steps/'))
          .sort();
      const newFiles = runFiles(reference);
      const check = async () => {
        expect(verifyRunFolder(out)).toBe(true);
        const now = snapshot(out);
        const isOld = JSON.stringify(now) === JSON.stringify(old);
        const isNew = !isOld && manifest(out).key === manifest(reference).key && JSON.stringify(runFiles(out)) === JSON.stringify(newFiles);
        expect(isOld || isNew, `${c.name}: neither the old run nor the new one: ${Object.keys(now).join(' ')}`).toBe(true);
        if (isNew)
          for (const f of c.sameFiles)
            expect(now[f], `${c.name}: ${f} differs from an uninterrupted run's`).toBe(fileSha256(join(reference, f)));
        if (c.report) {
          // What `xbar report` does with the folder, in this process (a node start-up is seconds on a loaded machine).
          const report = await buildReport([out]);
          expect(report.skipped).toEqual([]);
          expect(report.sections.length).toBeGreaterThan(0);
        }
        return isOld ? 'old' : 'new';
      };
      for (const [signal, share] of [
        ['SIGKILL', 0.3],
        ['SIGINT', 0.55],
        ['SIGKILL', 0.8],
      ] as const) {
        await killAfter([...c.new, '--out', out], signal, share * duration);
        await check();
      }
      // Started again, the run ends as the uninterrupted one did.
      const again = await xbar(...c.new, '--out', out);
      expect(again.code, again.err).toBe(0);
      expect(await check()).toBe('new');
      if (c.same) {
        const results = (dir: string) => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
        expect(c.same(results(out))).toEqual(c.same(results(reference)));
      }
      // Nothing left beside the folder: no staging folder, cache or lock.
      expect(readdirSync(work).filter((f) => f.startsWith(`.${c.name.replace(' ', '-')}.`))).toEqual([]);
      expect(existsSync(out)).toBe(true);
    }, 300_000);
});
