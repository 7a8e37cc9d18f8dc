import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWith } from '../optional.js';
import { comparable, comparableCorrectnet } from './compare.js';

/**
 * A real Slurm: scripts/slurm-local.sh starts a one-node cluster (munged, slurmctld, slurmd on
 * 127.0.0.1) on a port of its own, xbar slurm submits a 4-shard array of a simulate sweep and its
 * merge job, and the merged results must equal the single-process run's. A shard cancelled
 * mid-run leaves no part; submitting again runs that shard alone and gives the same results.
 * correctnet runs as a prepare job, a 2-shard array after it and the merge.
 * The daemons this test started are stopped in afterAll, also when a test fails.
 */
const repo = resolve(import.meta.dirname, '../..');
const bin = join(repo, 'dist/cli/main.js');
const script = join(repo, 'scripts/slurm-local.sh');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeWith(['slurm'], 'xbar slurm on a one-node Slurm cluster', () => {
  const work = mkdtempSync(join(tmpdir(), 'xbar-slurm-'));
  const cluster = join(work, 'cluster');
  const port = String(20000 + 2 * Math.floor(Math.random() * 10000));
  const env = { ...process.env, FORCE_COLOR: '0', SLURM_CONF: join(cluster, 'slurm.conf'), XBAR_SLURM_PORT: port };
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8', env });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const xbar = (...args: string[]) => run(process.execPath, [bin, ...args]);
  const model = join(work, 'model');
  const sim = ['simulate', '-m', model, '--chips', '24', '--seed', '9', '--sweep', 'sigma=0.05,0.3', '--read-noise', '0.02'];
  const sim2 = [...sim, '--faults', 'random:sa0=0.01,sa1=0.02', '--maps', '2'];
  const reference = join(work, 'one');

  beforeAll(() => {
    const up = run('bash', [script, 'start', cluster]);
    if (up.code !== 0) throw new Error(`the local Slurm did not start: ${up.err.trim()}`);
    const t = xbar('train', '--model', 'mlp-paper', '--epochs', '3', '--limit-train', '1500', '--out', model, '--quiet');
    expect(t.code, t.err).toBe(0);
    const one = xbar(...sim2, '--workers', '1', '--out', reference, '--quiet');
    expect(one.code, one.err).toBe(0);
  }, 300_000);
  afterAll(() => {
    run('bash', [script, 'stop', cluster]);
    rmSync(work, { recursive: true, force: true });
  });

  /** Waits until Slurm no longer holds the job (ended), up to 5 minutes. */
  async function ended(id: string): Promise<void> {
    for (const t0 = Date.now(); Date.now() - t0 < 300_000; await sleep(250)) {
      const q = run('squeue', ['-h', '-j', id, '-o', '%i']);
      if (q.code === 0 && !q.out.trim()) return;
      if (q.code !== 0 && /Invalid job id/.test(q.err)) return;
    }
    throw new Error(`job ${id} still queued after 5 minutes`);
  }
  const submit = (out: string) => {
    const r = xbar('slurm', ...sim2, '--shards', '4', '--out', out, '--submit');
    expect(r.code, r.err).toBe(0);
    const m = /submitted array job (\d+) \(shards ([\d,]+)\) and merge job (\d+)/.exec(r.out);
    if (!m) throw new Error(`xbar slurm printed no job ids: ${r.out}`);
    return { array: m[1], shards: m[2], merge: m[3] };
  };

  it('a 4-shard array and its merge job give the single-process results', async () => {
    const out = join(work, 'a');
    const jobs = submit(out);
    expect(jobs.shards).toBe('1,2,3,4');
    await ended(jobs.merge);
    expect(readFileSync(join(out, 'logs', 'merge.out'), 'utf8')).toMatch(/merged 4 shards of xbar simulate/);
    expect(comparable(join(out, 'results'))).toEqual(comparable(reference));
    // Submitting again finds every shard done and merged: nothing to submit.
    const again = xbar('slurm', ...sim2, '--shards', '4', '--out', out, '--submit');
    expect(again.out).toMatch(/every shard is done and merged/);
  }, 600_000);

  it('a shard cancelled mid-run leaves no part; submitting again runs it alone and gives the same results', async () => {
    const out = join(work, 'b');
    const jobs = submit(out);
    // The shard's staging folder appears once it is working on its chips: cancel it then.
    const staging = join(out, 'parts', '.2.xbar-staging');
    for (const t0 = Date.now(); !existsSync(staging); await sleep(20))
      if (Date.now() - t0 > 300_000) throw new Error('shard 2 never started');
    const cancel = run('scancel', [`${jobs.array}_2`]);
    expect(cancel.code, cancel.err).toBe(0);
    await ended(jobs.merge);
    if (existsSync(join(out, 'parts', '2', 'manifest.json')))
      throw new Error('shard 2 finished before scancel reached it: give the shards more chips');
    expect(readFileSync(join(out, 'logs', 'merge.out'), 'utf8')).toMatch(/shard 2 of 4 is missing/);
    expect(existsSync(join(out, 'results'))).toBe(false);
    const again = submit(out);
    expect(again.shards).toBe('2');
    await ended(again.merge);
    expect(comparable(join(out, 'results'))).toEqual(comparable(reference));
  }, 600_000);

  it('correctnet: a prepare job, two shards reusing its steps and the merge give the single-process results', async () => {
    const cn = [
      'correctnet',
      ...['-m', 'mlp-paper', '--limit-train', '1000', '--limit-test', '100', '--plain-epochs', '1', '--finetune-epochs', '1'],
      ...['--sigmas', '0,0.6', '--target-sigma', '0.6', '--chips', '3', '--budget', '0.5', '--ranks', '1', '--comp-epochs', '1'],
      ...['--episodes', '8', '--search', 'rl', '--search-train', '100', '--search-chips', '1', '--val-images', '50'],
      ...['--calibrate', '50', '--calibrate-chips', '3', '--calibrate-epochs', '1', '--kernels', 'js'],
    ];
    const one = xbar(...cn, '--workers', '1', '--out', join(work, 'cn-one'), '--quiet');
    expect(one.code, one.err).toBe(0);
    const out = join(work, 'cn');
    const r = xbar('slurm', ...cn, '--shards', '2', '--out', out, '--submit');
    expect(r.code, r.err).toBe(0);
    const m = /submitted prepare job (\d+) .*array job (\d+) \(shards 1,2\) and merge job (\d+)/.exec(r.out);
    if (!m) throw new Error(`xbar slurm printed no job ids: ${r.out}`);
    await ended(m[3]);
    expect(readFileSync(join(out, 'logs', 'merge.out'), 'utf8')).toMatch(/merged 2 shards of xbar correctnet/);
    expect(comparableCorrectnet(join(out, 'results'))).toEqual(comparableCorrectnet(join(work, 'cn-one')));
  }, 600_000);
});
