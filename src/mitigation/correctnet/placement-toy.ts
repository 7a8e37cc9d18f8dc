import type { PlacementProblem } from './placement.js';

/**
 * A toy placement problem with a known optimum: 6 sites, actions none / small / large, costs
 * that make the budget bind, a value per (site, action) with diminishing returns, and an
 * interaction (a module right after another one helps less). The most sensitive sites are not
 * where the best modules go, so the greedy ranking is not optimal. Feasible configurations: 278;
 * optimum [1, 0, 2, 2, 0, 0]. The tests and bench/placement-rl.mjs check the searches against it.
 */
export function toyPlacementProblem(): PlacementProblem & { calls: number } {
  const sens = [0.9, 0.8, 0.3, 0.2, 0.5, 0.1];
  const value = [
    [0, 0.02, 0.025],
    [0, 0.018, 0.022],
    [0, 0.03, 0.05],
    [0, 0.01, 0.045],
    [0, 0.015, 0.02],
    [0, 0.005, 0.006],
  ];
  const cost = [
    [0, 0.01, 0.03],
    [0, 0.01, 0.03],
    [0, 0.008, 0.02],
    [0, 0.005, 0.02],
    [0, 0.01, 0.03],
    [0, 0.002, 0.004],
  ];
  const p = {
    calls: 0,
    sites: sens.map((s, i) => ({ layer: i, position: i / 5, size: 100 * (6 - i), sensitivity: s })),
    actions: ['none', 'small', 'large'],
    cost: (s: number, a: number) => cost[s][a],
    budget: 0.05,
    overheadWeight: 0.1,
    evaluate(config: number[]) {
      p.calls++;
      let acc = 0.5;
      config.forEach((a, s) => {
        let v = value[s][a];
        if (a && s > 0 && config[s - 1]) v *= 0.7;
        acc += v;
      });
      return acc;
    },
  };
  return p;
}

/** Its optimum (checked by exhaustive search in the tests). */
export const TOY_OPTIMUM = [1, 0, 2, 2, 0, 0];
