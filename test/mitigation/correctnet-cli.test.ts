import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { xbar } from '../xbar-cli.js';

/** End-to-end through the built `xbar` command (npm test builds dist/ first). */
const proxyScript = resolve(import.meta.dirname, '../../scripts/calibration-proxy.mjs');
const work = mkdtempSync(join(tmpdir(), 'xbar-correctnet-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('xbar train with Lipschitz regularisation and noise injection', () => {
  const plain = join(work, 'plain');
  const small = ['--model', 'mlp-paper', '--epochs', '2', '--limit-train', '2000', '--limit-test', '300', '--kernels', 'js', '--quiet'];

  it('fine-tunes a saved model with a regulariser and with injected noise, and records both in the model', () => {
    expect(xbar('train', ...small, '--out', plain).code).toBe(0);
    const lip = join(work, 'lip');
    const r = xbar('train', ...small, '--init', plain, '--lipschitz', 'spectral', '--lambda', '0.1', '--out', lip, '--json');
    expect(r.code, r.err).toBe(0);
    const meta = JSON.parse(readFileSync(join(lip, 'model.json'), 'utf8')).meta;
    expect(meta.lipschitz).toEqual({ kind: 'spectral', lambda: 0.1, bound: 1, iterations: 1 });
    expect(meta.init).toBe(plain);
    expect(meta.history[0].penalty).toBeGreaterThan(0);
    const noisy = join(work, 'noisy');
    expect(xbar('train', ...small, '--init', plain, '--noise-sigma', '0.3', '--noise-ramp', '0.5', '--out', noisy).code).toBe(0);
    const nm = JSON.parse(readFileSync(join(noisy, 'model.json'), 'utf8')).meta.noiseInjection;
    expect(nm.sigma).toBe(0.3);
    expect(nm.rampSteps).toBeGreaterThan(0);
    expect(nm.rails).toBe(false);
    const railed = join(work, 'railed');
    const rr = xbar('train', ...small, '--init', plain, '--noise-sigma', '1', '--noise-rails', '--out', railed, '--json');
    expect(rr.code, rr.err).toBe(0);
    const rm = JSON.parse(readFileSync(join(railed, 'model.json'), 'utf8')).meta;
    expect(rm.noiseInjection.rails).toBe(true);
    // The saved model is the network itself: no clipping layers leak into it.
    expect(rm.history.every((e: { loss: number }) => Number.isFinite(e.loss))).toBe(true);
    expect(JSON.parse(readFileSync(join(railed, 'model.json'), 'utf8')).spec).toEqual(
      JSON.parse(readFileSync(join(plain, 'model.json'), 'utf8')).spec,
    );
  });

  it('rejects incomplete options with one line naming the fix', () => {
    const r = xbar('train', ...small, '--lipschitz', 'spectral');
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/needs --lambda/);
    const rails = xbar('train', ...small, '--noise-rails');
    expect(rails.code).toBe(1);
    expect(rails.err).toMatch(/--noise-rails need --noise-sigma/);
    expect(xbar('train', ...small, '--lipschitz', 'nope', '--lambda', '1').code).toBe(2);
    const bad = xbar(
      'train',
      '--model',
      'lenet5',
      '--limit-train',
      '100',
      '--limit-test',
      '10',
      '--epochs',
      '1',
      '--init',
      plain,
      '--quiet',
    );
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/--init .* do not fit this architecture/);
  });
});

describe('xbar correctnet', () => {
  const out = join(work, 'cn');
  const args = [
    'correctnet',
    '--model',
    'mlp-paper',
    '--out',
    out,
    '--limit-train',
    '3000',
    '--limit-test',
    '300',
    '--plain-epochs',
    '6',
    '--finetune-epochs',
    '1',
    '--sigmas',
    '0,0.3,0.6',
    '--chips',
    '4',
    '--budget',
    '0.5',
    '--ranks',
    '1,2',
    '--comp-epochs',
    '1',
    '--episodes',
    '48',
    '--search-train',
    '400',
    '--search-chips',
    '2',
    '--val-images',
    '200',
    '--workers',
    '1',
    '--kernels',
    'js',
    '--quiet',
  ];

  it('runs the pipeline and writes the table, the RL curve and a results file a report can read', () => {
    const r = xbar(...args);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/\| sigma \| plain \| noise \| lipschitz \| lipschitz\+comp \| noise\+comp \|/);
    const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(res.format).toBe('xbar-correctnet');
    expect(res.version).toBe(1);
    expect(typeof res.xbarVersion).toBe('string');
    expect(res.options.seed).toBe(1);
    expect(res.seeds.chips).toBe(1);
    expect(res.methods.map((m: { method: string }) => m.method)).toEqual(['plain', 'noise', 'lipschitz', 'lipschitz+comp', 'noise+comp']);
    for (const m of res.methods) {
      expect(m.sweep.map((p: { sigma: number }) => p.sigma)).toEqual([0, 0.3, 0.6]);
      expect(m.sweep[1].summary.n).toBe(4);
      // What the modules add on the chip (docs/cost.md): nothing without modules.
      if (m.compensation) {
        expect(m.hardwareCost.overhead.energy).toBeGreaterThan(0);
        expect(m.hardwareCost.withMethod.energy).toBeCloseTo(m.hardwareCost.base.energy + m.hardwareCost.overhead.energy, 15);
      } else expect(m.hardwareCost).toBeNull();
    }
    expect(Object.keys(res.placement.results).sort()).toEqual(['exhaustive', 'greedy', 'rl']);
    // 3 actions at 4 sites, all within a 50% budget: the exhaustive search sees all 81.
    expect(res.placement.results.exhaustive.evaluations).toBe(81);
    expect(res.placement.results.rl.curve.length).toBeGreaterThan(0);
    expect(res.amplification.plain.layers).toHaveLength(4);
    expect(res.sensitivity).toHaveLength(4);
    expect(existsSync(join(out, 'table.md'))).toBe(true);
    expect(readFileSync(join(out, 'rl-curve.csv'), 'utf8').split('\n')[0]).toBe(
      'episode,mean_reward,best_reward,evaluations,greedy_probability,entropy',
    );
  });

  it('resumes: a second run reuses every model and step and gives the same table', () => {
    const before = readFileSync(join(out, 'table.md'), 'utf8');
    const r = xbar(...args.filter((a) => a !== '--quiet'));
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/placement: reusing/);
    expect(r.err).not.toMatch(/training into/);
    expect(readFileSync(join(out, 'table.md'), 'utf8')).toBe(before);
  });

  it('adds per-chip calibrated columns at the target sigma, reusing every other step, with their cost', () => {
    const r = xbar(...args, '--calibrate', '150,300', '--calibrate-chips', '2', '--calibrate-epochs', '3', '--json');
    expect(r.code, r.err).toBe(0);
    const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    const cal = res.methods.filter((m: { method: string }) => m.method.includes('+cal'));
    expect(cal.map((m: { method: string }) => m.method)).toEqual(['plain+cal150', 'plain+cal300', 'lipschitz+cal150', 'lipschitz+cal300']);
    for (const m of cal) {
      expect(m.sweep).toHaveLength(1);
      expect(m.sweep[0].sigma).toBe(res.headline.targetSigma);
      expect(m.sweep[0].summary.n).toBe(2);
      expect(m.calibration.chips).toBe(2);
      expect(m.calibration.secondsPerChip).toBeGreaterThan(0);
      expect(m.compensation.paramsShare).toBeLessThanOrEqual(0.5);
      expect(m.calibration.sites).toHaveLength(4);
      expect(m.hardwareCost.blocks).toHaveLength(4);
    }
    expect(res.headline.calibrated.map((c: { images: number }) => c.images)).toEqual([150, 300, 150, 300]);
    // The existing columns are unchanged and still there.
    expect(res.methods.slice(0, 5).map((m: { method: string }) => m.method)).toEqual([
      'plain',
      'noise',
      'lipschitz',
      'lipschitz+comp',
      'noise+comp',
    ]);
    const table = readFileSync(join(out, 'table.md'), 'utf8');
    expect(table).toMatch(/\| plain\+cal150 \| plain\+cal300 \| lipschitz\+cal150 \| lipschitz\+cal300 \|/);
    expect(table).toMatch(/plain\+cal300: plain network with modules after every layer .* fine-tuned on each chip with 300 labelled/);
    // Each chip is cached on its own: a run stopped between chips resumes at the next chip.
    const steps = join(out, 'steps');
    expect(existsSync(join(steps, 'calibrate-plain+cal150-chip1.json'))).toBe(true);
    rmSync(join(steps, 'calibrate-plain+cal150.json'));
    rmSync(join(steps, 'calibrate-plain+cal150-chip1.json'));
    const again = xbar(...args, '--calibrate', '150,300', '--calibrate-chips', '2', '--calibrate-epochs', '3', '--json');
    expect(again.code, again.err).toBe(0);
    const res2 = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    const acc = (r: { methods: { method: string; sweep: { accuracies: number[] }[] }[] }) =>
      r.methods.find((m) => m.method === 'plain+cal150')?.sweep[0].accuracies;
    expect(acc(res2)).toEqual(acc(res));
    // More chips reuse the first ones: a column of 3 chips calibrates only chip 2.
    const chip0 = join(steps, 'calibrate-plain+cal150-chip0.json');
    const written = statSync(chip0).mtimeMs;
    const more = xbar(
      ...args,
      '--calibrate',
      '150',
      '--calibrate-bases',
      'plain',
      '--calibrate-chips',
      '3',
      '--calibrate-epochs',
      '3',
      '--json',
    );
    expect(more.code, more.err).toBe(0);
    const resMore = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(acc(resMore)).toHaveLength(3);
    expect(acc(resMore)?.slice(0, 2)).toEqual(acc(res));
    expect(statSync(chip0).mtimeMs).toBe(written);
    // Chips calibrated in worker threads are the serial chips.
    for (const f of ['calibrate-lipschitz+cal300.json', 'calibrate-lipschitz+cal300-chip0.json', 'calibrate-lipschitz+cal300-chip1.json'])
      rmSync(join(steps, f));
    const par = xbar(
      ...args.filter((a) => a !== '--quiet'),
      '--workers',
      '2',
      '--calibrate',
      '150,300',
      '--calibrate-chips',
      '2',
      '--calibrate-epochs',
      '3',
    );
    expect(par.code, par.err).toBe(0);
    expect(par.err).toMatch(/lipschitz\+cal300 sigma=[\d.]+: calibrating 2 chips on 2 workers/);
    const res3 = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    const acc300 = (r: { methods: { method: string; sweep: { accuracies: number[] }[] }[] }) =>
      r.methods.find((m) => m.method === 'lipschitz+cal300')?.sweep[0].accuracies;
    expect(acc300(res3)).toEqual(acc300(res));
    // --calibrate-bases picks the networks that get calibrated columns.
    const one = xbar(...args, '--calibrate', '300', '--calibrate-bases', 'lipschitz', '--calibrate-chips', '2', '--calibrate-epochs', '3');
    expect(one.code, one.err).toBe(0);
    const res4 = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(res4.methods.filter((m: { method: string }) => m.method.includes('+cal')).map((m: { method: string }) => m.method)).toEqual([
      'lipschitz+cal300',
    ]);
    expect(acc300(res4)).toEqual(acc300(res));
    // --calibrate-ranks sizes the calibrated modules apart from --ranks (whose placement is reused).
    const sized = xbar(
      ...args,
      '--calibrate',
      '300',
      '--calibrate-bases',
      'lipschitz',
      '--calibrate-ranks',
      '2',
      '--calibrate-chips',
      '2',
      '--calibrate-epochs',
      '3',
    );
    expect(sized.code, sized.err).toBe(0);
    const res5 = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    const sites5 = res5.methods.find((m: { method: string }) => m.method === 'lipschitz+cal300').calibration.sites;
    expect(sites5.map((s: { rank: number }) => s.rank).every((r: number) => r === 0 || r === 2)).toBe(true);
    expect(res5.placement).toEqual(res4.placement);
    // --calibrate-loss kd distils the clean network: its own cached chips, recorded in the results.
    const kd = xbar(
      ...args,
      '--calibrate',
      '300',
      '--calibrate-bases',
      'lipschitz',
      '--calibrate-loss',
      'kd',
      '--calibrate-chips',
      '2',
      '--calibrate-epochs',
      '3',
    );
    expect(kd.code, kd.err).toBe(0);
    const res6 = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(res6.methods.find((m: { method: string }) => m.method === 'lipschitz+cal300').calibration.loss).toBe('kd');
    expect(res4.methods.find((m: { method: string }) => m.method === 'lipschitz+cal300').calibration.loss).toBe('ce');
    expect(acc300(res6)).not.toEqual(acc300(res4));
    expect(readFileSync(join(out, 'table.md'), 'utf8')).toMatch(/300 training images distilling the clean network \(no labels\)/);
  }, 300_000);

  it('places the calibrated modules by the searches with --calibrate-search, and reports the search', () => {
    const r = xbar(
      ...args,
      '--calibrate',
      '150',
      '--calibrate-chips',
      '2',
      '--calibrate-epochs',
      '2',
      '--calibrate-search',
      '100',
      '--max-exhaustive',
      '256',
      '--json',
    );
    expect(r.code, r.err).toBe(0);
    const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    const cp = res.calibrationPlacement;
    // Actions: none, a per-channel affine (rank 0) and the two --ranks, at 4 sites.
    expect(cp.actions).toEqual(['none', 'affine', 'rank 1', 'rank 2']);
    expect(Object.keys(cp.results).sort()).toEqual(['exhaustive', 'greedy', 'rl']);
    expect(cp.results.exhaustive.evaluations).toBe(256);
    expect(cp.results.rl.curve.length).toBeGreaterThan(0);
    expect(cp.results.rl.best.overhead).toBeLessThanOrEqual(0.5);
    // The calibrated columns use the RL choice.
    const cal = res.methods.find((m: { method: string }) => m.method === 'lipschitz+cal150');
    expect(cal.calibration.sites).toEqual(cp.chosen.sites);
    expect(cp.chosen.sites.length).toBe(cp.chosen.config.filter((a: number) => a > 0).length);
    expect(readFileSync(join(out, 'rl-curve-calibrated.csv'), 'utf8').split('\n').length).toBeGreaterThan(2);
    expect(readFileSync(join(out, 'table.md'), 'utf8')).toMatch(/Placement of the per-chip calibrated modules/);
    const alone = xbar(...args, '--calibrate-search', '100');
    expect(alone.code).toBe(1);
    expect(alone.err).toMatch(/give --calibrate too/);
    const stray = xbar(...args, '--calibrate', '150', '--calibrate-search-epochs', '1');
    expect(stray.code).toBe(1);
    expect(stray.err.trim().split('\n')).toHaveLength(1);
    expect(stray.err).toMatch(/--calibrate-search-epochs sets the search of --calibrate-search: give --calibrate-search too/);
  }, 300_000);

  it('runs the calibrated search with its own epochs, chips and episodes, on workers with the serial result, and resumes from its evaluations', () => {
    // Its own search settings, so the steps before it (and the other search) are reused.
    const search = ['--calibrate', '150', '--calibrate-chips', '1', '--calibrate-epochs', '2', '--calibrate-bases', 'lipschitz'];
    const own = [
      '--calibrate-search',
      '100',
      '--calibrate-search-epochs',
      '20',
      '--calibrate-search-chips',
      '3',
      '--calibrate-search-episodes',
      '16',
    ];
    const loud = args.filter((a) => a !== '--quiet');
    const serial = xbar(...loud, ...search, ...own);
    expect(serial.code, serial.err).toBe(0);
    expect(serial.err).toMatch(/each evaluation calibrates 3 chips on 100 images for 20 epochs\n/);
    expect(serial.err).toMatch(/placement: reusing/);
    const res = () => JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).calibrationPlacement;
    const first = res();
    expect(first.problem).toMatchObject({ chips: 3, epochs: 20, episodes: 16, calibrationImages: 100 });
    expect(first.results.rl.episodes).toBeLessThanOrEqual(16);
    const steps = join(out, 'steps');
    const journal = JSON.parse(readFileSync(join(steps, 'calibration-placement-evaluations.json'), 'utf8'));
    const measured = new Set(
      Object.values(first.results as Record<string, { history: { config: number[] }[] }>).flatMap((r) =>
        r.history.map((e) => e.config.join(',')),
      ),
    );
    expect(Object.keys(journal.value).sort()).toEqual([...measured].sort());
    // Interrupted after its evaluations (the search's own step gone): they are replayed, same result.
    rmSync(join(steps, 'calibration-placement.json'));
    const resumed = xbar(...loud, ...search, ...own);
    expect(resumed.code, resumed.err).toBe(0);
    expect(resumed.err).toMatch(new RegExp(`replaying ${measured.size} evaluations`));
    expect(resumed.err).not.toMatch(/evaluated \[/);
    expect(res().results.rl.history).toEqual(first.results.rl.history);
    expect(res().results.greedy.best).toEqual(first.results.greedy.best);
    // More episodes replay the evaluations made and evaluate only new configurations.
    const longer = xbar(...loud, ...search, ...own.map((a, i) => (own[i - 1] === '--calibrate-search-episodes' ? '32' : a)));
    expect(longer.code, longer.err).toBe(0);
    expect(longer.err).toMatch(new RegExp(`replaying ${measured.size} evaluations`));
    const grown = Object.keys(JSON.parse(readFileSync(join(steps, 'calibration-placement-evaluations.json'), 'utf8')).value);
    expect(longer.err.match(/evaluated \[/g)?.length ?? 0).toBe(grown.length - measured.size);
    expect(res().results.rl.curve[0]).toEqual(first.results.rl.curve[0]);
    rmSync(join(steps, 'calibration-placement.json'));
    rmSync(join(steps, 'calibration-placement-evaluations.json'));
    // From scratch on two workers: every evaluation as in the serial search.
    const par = xbar(...loud.map((a, i) => (loud[i - 1] === '--workers' ? '2' : a)), ...search, ...own);
    expect(par.code, par.err).toBe(0);
    expect(par.err).toMatch(/on 2 workers/);
    expect(res().results.rl.history).toEqual(first.results.rl.history);
    // Another policy-update batch is another search over the same evaluations: the journal replays them.
    const batched = xbar(...loud, ...search, ...own, '--rl-batch', '4');
    expect(batched.code, batched.err).toBe(0);
    expect(batched.err).toMatch(new RegExp(`calibration-placement: replaying ${measured.size} evaluations`));
    expect(res().results.rl.batch).toBe(4);
    expect(res().results.rl.curve.length).toBe(Math.ceil(res().results.rl.episodes / 4));
    expect(readFileSync(join(out, 'table.md'), 'utf8')).toMatch(/every batch of 4 episodes/);
    // The search's best configurations measured again with the final calibration; the best is used.
    const again = xbar(...loud, ...search, ...own, '--calibrate-search-remeasure', '2');
    expect(again.code, again.err).toBe(0);
    expect(again.err).toMatch(/re-measuring the RL search's best 2 configurations: 2 chips calibrated on 150 images for 2 epochs each/);
    const rm = res().remeasured;
    expect(rm).toMatchObject({ chips: 2, images: 150, epochs: 2 });
    expect(rm.candidates).toHaveLength(2);
    const byReward = [...res().results.rl.history].sort((a: { reward: number }, b: { reward: number }) => b.reward - a.reward);
    expect(rm.candidates.map((c: { config: number[] }) => c.config)).toEqual(
      byReward.slice(0, 2).map((e: { config: number[] }) => e.config),
    );
    const top = rm.candidates.reduce((a: { reward: number }, b: { reward: number }) => (b.reward > a.reward ? b : a));
    expect(rm.chosen).toEqual(top.config);
    expect(res().chosen.config).toEqual(top.config);
    for (const c of rm.candidates) expect(c.reward).toBeCloseTo(c.accuracy - 0.1 * c.overhead, 12);
    expect(readFileSync(join(out, 'table.md'), 'utf8')).toMatch(/best 2 configurations measured again[\s\S]*\(chosen\)/);
    const replay = xbar(...loud, ...search, ...own, '--calibrate-search-remeasure', '2');
    expect(replay.code, replay.err).toBe(0);
    expect(replay.err).toMatch(/calibration-remeasure: replaying 2 evaluations/);
    expect(replay.err).not.toMatch(/evaluated \[/);
    // scripts/calibration-proxy.mjs with the search's own settings measures what the search did.
    const seeds = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).seeds;
    expect(seeds.calibrationSearchChips).toBe(seeds.chips + 41);
    const [config, accuracy] = Object.entries(
      JSON.parse(readFileSync(join(steps, 'calibration-placement-evaluations.json'), 'utf8')).value as Record<string, number>,
    ).find(([c]) => c.split(',').some((a) => a !== '0')) as [string, number];
    const proxy = spawnSync(
      process.execPath,
      [proxyScript, '--run', out, '--images', '100', '--epochs', '20', '--chips', '3', '--workers', '1', config],
      { encoding: 'utf8' },
    );
    expect(proxy.status, proxy.stderr).toBe(0);
    expect(proxy.stdout).toMatch(
      new RegExp(`^100 images x 20 epochs, 3 chips, \\[${config}\\]: ${(accuracy * 100).toFixed(2)}% \\(\\d+ s\\)\n$`),
    );
    const bad = spawnSync(process.execPath, [proxyScript, '--run', out, '1,2'], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^calibration-proxy: configuration '1,2' must list 4 actions from 0 to \d\n$/);
    // Seven correctnet runs: over two minutes when the two cores are shared.
  }, 600_000);

  it('rejects bad --calibrate values with one line', () => {
    for (const [v, msg] of [
      ['0', /--calibrate '0' must list whole numbers >= 1/],
      ['100,abc', /--calibrate '100,abc' must list whole numbers/],
      ['2.5', /must list whole numbers/],
      ['99999', /--calibrate 99999 is more than the 2700 training images/],
    ] as const) {
      const r = xbar(...args, '--calibrate', v);
      expect(r.code, v).toBe(1);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toMatch(msg);
    }
    const bases = xbar(...args, '--calibrate', '150', '--calibrate-bases', 'lipschitz,noise');
    expect(bases.code).toBe(1);
    expect(bases.err.trim().split('\n')).toHaveLength(1);
    expect(bases.err).toMatch(/--calibrate-bases 'lipschitz,noise' must list plain and\/or lipschitz/);
    const badLoss = xbar(...args, '--calibrate', '150', '--calibrate-loss', 'mse');
    expect(badLoss.code).toBe(1);
    expect(badLoss.err).toMatch(/--calibrate-loss 'mse' must be ce \(labels\) or kd/);
    const badRanks = xbar(...args, '--calibrate', '150', '--calibrate-ranks', '2.5');
    expect(badRanks.code).toBe(1);
    expect(badRanks.err).toMatch(/--calibrate-ranks must be whole numbers, got 2.5/);
  });
});
