import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { comparable } from './compare.js';

/** End-to-end: simulate --shard, xbar merge and xbar slurm (scripts only) as a user runs them (npm test builds dist/ first). */
const bin = resolve(import.meta.dirname, '../../dist/cli/main.js');
const xbar = (args: string[], env: Record<string, string | undefined> = {}) => {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0', ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const work = mkdtempSync(join(tmpdir(), 'xbar-shard-cli-'));
const model = join(work, 'model');
afterAll(() => rmSync(work, { recursive: true, force: true }));
beforeAll(() => {
  const r = xbar(['train', '--model', 'mlp-paper', '--epochs', '3', '--limit-train', '1500', '--out', model, '--quiet']);
  expect(r.code, r.err).toBe(0);
}, 300_000);
const sim = [
  'simulate',
  '-m',
  model,
  '--chips',
  '6',
  '--seed',
  '5',
  '--limit-test',
  '400',
  '--sweep',
  'sigma=0.05,0.3',
  '--read-noise',
  '0.03',
];
const sim2 = [...sim, '--faults', 'random:sa0=0.01,sa1=0.02', '--quiet'];

describe('simulate --shard and xbar merge', () => {
  it('two shards (one on worker threads, one from a Slurm array environment) merge into the unsharded results', () => {
    expect(xbar([...sim2, '--out', join(work, 'one')]).code).toBe(0);
    const a = xbar([...sim2, '--shard', '1/2', '--workers', '2', '--out', join(work, 'parts', 'a')]);
    expect(a.code, a.err).toBe(0);
    expect(a.out).toMatch(/shard 1\/2: part written to/);
    const env = { SLURM_ARRAY_TASK_ID: '8', SLURM_ARRAY_TASK_MIN: '7', SLURM_ARRAY_TASK_COUNT: '2' };
    expect(xbar([...sim2, '--shard', 'auto', '--out', join(work, 'parts', 'b')], env).code).toBe(0);
    const m = xbar(['merge', join(work, 'parts'), '--out', join(work, 'merged')]);
    expect(m.code, m.err).toBe(0);
    expect(m.out).toMatch(/^sigma=0.05: accuracy .* over 6 chips$/m);
    expect(m.out).toMatch(/merged 2 shards of xbar simulate/);
    expect(comparable(join(work, 'merged'))).toEqual(comparable(join(work, 'one')));
  }, 300_000);

  it('bad shards and parts get one line and a non-zero exit', () => {
    const bad = (args: string[], env = {}) => {
      const r = xbar(args, env);
      expect(r.code).not.toBe(0);
      // One line (commander adds its usage hint to a flag's error).
      expect(
        r.err
          .trim()
          .split('\n')
          .filter((l) => !l.startsWith('(run with --help')),
      ).toHaveLength(1);
      expect(r.err).not.toMatch(/internal error| {4}at /);
      return r.err;
    };
    expect(bad([...sim2, '--shard', '3/2', '--out', join(work, 'x')])).toMatch(/shard 3 is not one of 1..2/);
    expect(bad([...sim2, '--shard', 'auto', '--out', join(work, 'x')], { SLURM_ARRAY_TASK_ID: '', JOB_COMPLETION_INDEX: '' })).toMatch(
      /give the shard as K\/N/,
    );
    expect(bad([...sim2, '--shard', '1/2'])).toMatch(/--shard needs --out/);
    expect(bad(['merge', join(work, 'parts', 'a'), '--out', join(work, 'm1')])).toMatch(/shard 2 of 2 is missing/);
    expect(bad(['merge', join(work, 'one'), '--out', join(work, 'm2')])).toMatch(/not a shard's part/);
    expect(bad(['merge', join(work, 'nowhere'), '--out', join(work, 'm3')])).toMatch(/does not exist/);
    expect(existsSync(join(work, 'm1'))).toBe(false);
  }, 300_000);
});

describe('xbar slurm (scripts)', () => {
  it('writes the job array and the merge job; refuses what it sets itself, other commands and another run in its folder', () => {
    const out = join(work, 'slurm');
    const r = xbar(['slurm', '--time', '0:10:00', ...sim, '--time', '1s,1d', '--shards', '3', '--partition', 'short', '--out', out]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/submit with: xbar slurm ... --submit/);
    const job = readFileSync(join(out, 'job.sbatch'), 'utf8');
    expect(job).toMatch(/^#SBATCH --array=1-3$/m);
    expect(job).toMatch(/^#SBATCH --time=0:10:00$/m);
    expect(job).toMatch(/^#SBATCH --partition=short$/m);
    // --time after the command is the command's own (read times), not Slurm's.
    expect(job).toMatch(/ --time 1s,1d .*--shard auto\/3 .*--out .*\/parts\/"\$SLURM_ARRAY_TASK_ID"$/m);
    const merge = readFileSync(join(out, 'merge.sbatch'), 'utf8');
    expect(merge).toMatch(/ merge \S+\/parts --out \S+\/results$/m);
    const bad = (args: string[], env = {}) => {
      const e = xbar(args, env);
      expect(e.code).not.toBe(0);
      expect(e.err.trim().split('\n')).toHaveLength(1);
      return e.err;
    };
    expect(bad(['slurm', ...sim, '--shards', '4', '--out', out])).toMatch(/holds another sharded run .*3 shards/);
    expect(bad(['slurm', 'train', '-m', 'mlp-paper', '--shards', '2', '--out', join(work, 's2')])).toMatch(/not 'train'/);
    expect(bad(['slurm', ...sim, '--shard', '1/2', '--shards', '2', '--out', join(work, 's3')])).toMatch(
      /sets --shard of each shard itself/,
    );
    expect(bad(['slurm', ...sim, '--out', join(work, 's4')])).toMatch(/needs --shards N/);
    // The command's flags are checked before anything is written.
    const typo = xbar(['slurm', ...sim, '--sigmaa', '0.1', '--shards', '2', '--out', join(work, 's6')]);
    expect(typo.code).toBe(2);
    expect(typo.err).toMatch(/unknown option '--sigmaa'/);
    expect(existsSync(join(work, 's6'))).toBe(false);
    expect(bad(['slurm', ...sim, '--shards', '2', '--out', join(work, 's5'), '--submit'], { PATH: '/nonexistent' })).toMatch(
      /sbatch not found on PATH: .*install-system-deps.sh slurm/,
    );
  }, 300_000);

  it("the corrector's commands get the task's cores as kernel threads (they take no --workers)", () => {
    for (const cmd of ['train', 'eval']) {
      const out = join(work, `slurm-correct-${cmd}`);
      const args = cmd === 'train' ? ['-m', model, '--train-chips', '20'] : ['--corrector', model, '--chips', '20'];
      const r = xbar(['slurm', 'correct', cmd, ...args, '--shards', '2', '--cpus-per-task', '2', '--out', out]);
      expect(r.code, r.err).toBe(0);
      expect(readFileSync(join(out, 'job.sbatch'), 'utf8')).toMatch(
        new RegExp(` correct ${cmd} .* --threads 2 --shard auto/2 --quiet --out \\S+/parts/"\\$SLURM_ARRAY_TASK_ID"$`, 'm'),
      );
    }
  }, 300_000);

  it('correctnet: a prepare job computes the shared steps once, the array reuses them', () => {
    const out = join(work, 'slurm-cn');
    const cn = ['correctnet', '-m', 'mlp-paper', '--chips', '40', '--calibrate', '250', '--shards', '8', '--cpus-per-task', '2'];
    const r = xbar(['slurm', ...cn, '--out', out]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/sbatch --parsable \S+\/prepare.sbatch, then .*--dependency=afterok:/);
    const prepare = readFileSync(join(out, 'prepare.sbatch'), 'utf8');
    expect(prepare).not.toMatch(/--array/);
    expect(prepare).toMatch(/ correctnet -m mlp-paper .*--workers 2 --prepare --quiet --out \S+\/prepared$/m);
    const job = readFileSync(join(out, 'job.sbatch'), 'utf8');
    expect(job).toMatch(/^#SBATCH --array=1-8$/m);
    expect(job).toMatch(/ --workers 2 --reuse \S+\/prepared --shard auto\/8 --quiet --out \S+\/parts\/"\$SLURM_ARRAY_TASK_ID"$/m);
    for (const own of ['--prepare', '--reuse']) {
      const e = xbar(['slurm', ...cn, own, ...(own === '--reuse' ? ['x'] : []), '--out', join(work, 'slurm-cn2')]);
      expect(e.code).not.toBe(0);
      expect(e.err).toMatch(new RegExp(`sets ${own} of each shard itself`));
    }
  }, 300_000);
});
