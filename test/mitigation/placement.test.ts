import { describe, expect, it } from 'vitest';
import { Evaluator, exhaustiveSearch, greedyPlacement, reinforcePlacement } from '../../src/mitigation/correctnet/placement.js';
import { TOY_OPTIMUM as OPTIMUM, toyPlacementProblem as toy } from '../../src/mitigation/correctnet/placement-toy.js';

describe('compensation placement', () => {
  it('exhaustive search enumerates every feasible configuration', async () => {
    const p = toy();
    const r = await exhaustiveSearch(p);
    const ev = new Evaluator(p);
    let feasible = 0;
    for (let n = 0; n < 3 ** 6; n++) {
      const c = Array.from({ length: 6 }, (_, i) => Math.floor(n / 3 ** i) % 3);
      if (ev.feasible(c)) feasible++;
    }
    expect(r.evaluations).toBe(feasible);
    expect(p.calls).toBe(feasible);
    expect(r.history.every((e) => e.overhead <= p.budget + 1e-12)).toBe(true);
    // The known optimum (by hand): small at site 0, large at sites 2 and 3 (the latter worth 0.7
    // x 0.045 after site 2), the whole budget: 0.5 + 0.02 + 0.05 + 0.0315 - 0.1 x 0.05.
    expect(r.best.config).toEqual(OPTIMUM);
    expect(r.best.reward).toBeCloseTo(0.5965, 12);
  });

  it('REINFORCE finds the exhaustive optimum with far fewer evaluations, and its policy converges to it', async () => {
    const p = toy();
    const exact = (await exhaustiveSearch(p)).best;
    const q = toy();
    const rl = await reinforcePlacement(q, { episodes: 800, seed: 1 });
    expect(rl.best.config).toEqual(exact.config);
    expect(rl.best.reward).toBeCloseTo(exact.reward, 12);
    expect(rl.policy.config).toEqual(exact.config);
    expect(rl.evaluations).toBeLessThan((await exhaustiveSearch(toy())).evaluations / 2);
    // A learning curve: the sampled configurations get better as the policy learns.
    expect(rl.curve.length).toBeGreaterThan(3);
    const first = rl.curve[0].meanReward;
    const last = rl.curve[rl.curve.length - 1].meanReward;
    expect(last).toBeGreaterThan(first);
    expect(rl.curve[rl.curve.length - 1].greedyProbability).toBeGreaterThan(0.5);
    // Every sampled configuration respected the budget.
    expect(rl.history.every((e) => e.overhead <= q.budget + 1e-12)).toBe(true);
  });

  it('updates its policy every batch of episodes, and records the batch', async () => {
    for (const batch of [16, 5, 1]) {
      const r = await reinforcePlacement(toy(), { episodes: 40, batch, seed: 3, converge: 1.1 });
      expect(r.batch).toBe(batch);
      expect(r.curve.map((c) => c.episode)).toEqual(Array.from({ length: Math.ceil(40 / batch) }, (_, i) => Math.min(40, (i + 1) * batch)));
    }
  });

  it('is reproducible from its seed, and different seeds agree on this problem', async () => {
    const a = await reinforcePlacement(toy(), { episodes: 300, seed: 4 });
    const b = await reinforcePlacement(toy(), { episodes: 300, seed: 4 });
    expect(a.curve).toEqual(b.curve);
    for (const seed of [2, 3, 5]) expect((await reinforcePlacement(toy(), { episodes: 800, seed })).best.config).toEqual(OPTIMUM);
  });

  it('greedy sensitivity ranking fills the budget from the most sensitive site, with one evaluation', async () => {
    const p = toy();
    const g = await greedyPlacement(p);
    expect(g.evaluations).toBe(1);
    // Sites by sensitivity: 0 (0.9), 1 (0.8), 4 (0.5), 2, 3, 5; largest module that fits each time.
    expect(g.best.config).toEqual([2, 1, 0, 0, 1, 0]);
    expect(g.best.reward).toBeLessThan((await exhaustiveSearch(toy())).best.reward);
  });

  it('searches sharing a store count their own evaluations but measure each configuration once', async () => {
    const p = toy();
    const store = new Map();
    const ex = await exhaustiveSearch(p, new Evaluator(p, store));
    const calls = p.calls;
    const rl = await reinforcePlacement(p, { episodes: 100, seed: 1 }, new Evaluator(p, store));
    expect(p.calls).toBe(calls);
    expect(rl.evaluations).toBeGreaterThan(0);
    expect(rl.evaluations).toBeLessThanOrEqual(ex.evaluations);
  });
});
