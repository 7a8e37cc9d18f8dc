import { XbarError } from '../../core/errors.js';
import { Rng } from '../../core/rng.js';

/**
 * Where to put compensation modules, and how big, under an overhead budget: CorrectNet's
 * reinforcement-learning placement, with the two baselines it is compared against (exhaustive
 * search and a greedy sensitivity ranking). The problem is abstract here (sites, actions, costs,
 * an evaluate function), so the same agent runs on real networks (correctnet.ts) and on toy
 * problems with a known optimum (the tests).
 */
export interface PlacementSite {
  /** Weighted layer the module would follow. */
  layer: number;
  /** State features of the site: position in the network (0..1), log of its size, measured sensitivity. */
  position: number;
  size: number;
  sensitivity: number;
}

export interface PlacementProblem {
  sites: PlacementSite[];
  /** Actions at every site; action 0 is "no module", larger indices are larger modules. */
  actions: string[];
  /** Overhead of action a at site s, as a share of the network (e.g. parameters). */
  cost(site: number, action: number): number;
  budget: number;
  /**
   * Accuracy under variation of a configuration (one action per site), measured on validation
   * data; a promise where an evaluation runs elsewhere (worker threads).
   */
  evaluate(config: number[]): number | Promise<number>;
  /** Reward = accuracy - overheadWeight * overhead (default 0.1: 1% overhead costs 0.1% accuracy). */
  overheadWeight?: number;
}

export interface Evaluation {
  config: number[];
  accuracy: number;
  overhead: number;
  reward: number;
}

export interface SearchResult {
  method: 'rl' | 'exhaustive' | 'greedy';
  best: Evaluation;
  /** Distinct configurations evaluated (each one trains modules and runs chips): the search cost. */
  evaluations: number;
  seconds: number;
  /** Every configuration evaluated, in order. */
  history: Evaluation[];
}

/**
 * Memoised evaluation: a configuration is trained and measured once per search. Searches that
 * share a `store` reuse each other's measurements (saving compute), but each counts its own
 * distinct configurations, so every method's search cost is what it would be alone.
 */
export class Evaluator {
  readonly cache = new Map<string, Evaluation>();
  readonly order: Evaluation[] = [];
  constructor(
    readonly problem: PlacementProblem,
    readonly store: Map<string, Evaluation> = new Map(),
  ) {}

  overhead(config: number[]): number {
    return config.reduce((a, act, s) => a + (act ? this.problem.cost(s, act) : 0), 0);
  }

  feasible(config: number[]): boolean {
    return this.overhead(config) <= this.problem.budget + 1e-12;
  }

  async get(config: number[]): Promise<Evaluation> {
    const key = config.join(',');
    const hit = this.cache.get(key);
    if (hit) return hit;
    let e = this.store.get(key);
    if (!e) {
      const accuracy = await this.problem.evaluate(config);
      const overhead = this.overhead(config);
      e = { config: config.slice(), accuracy, overhead, reward: accuracy - (this.problem.overheadWeight ?? 0.1) * overhead };
      this.store.set(key, e);
    }
    this.cache.set(key, e);
    this.order.push(e);
    return e;
  }

  best(): Evaluation {
    return this.order.reduce((a, b) => (b.reward > a.reward ? b : a));
  }
}

/** Every feasible configuration (actions^sites of them, pruned by the budget), each evaluated. */
export async function exhaustiveSearch(problem: PlacementProblem, evaluator = new Evaluator(problem)): Promise<SearchResult> {
  const t0 = performance.now();
  const n = problem.sites.length;
  const k = problem.actions.length;
  const before = evaluator.order.length;
  const config = new Array<number>(n).fill(0);
  const rec = async (s: number, used: number): Promise<void> => {
    if (s === n) {
      await evaluator.get(config);
      return;
    }
    for (let a = 0; a < k; a++) {
      const c = a ? problem.cost(s, a) : 0;
      if (used + c > problem.budget + 1e-12) continue;
      config[s] = a;
      await rec(s + 1, used + c);
    }
    config[s] = 0;
  };
  await rec(0, 0);
  const history = evaluator.order.slice(before);
  return {
    method: 'exhaustive',
    best: history.reduce((a, b) => (b.reward > a.reward ? b : a)),
    evaluations: history.length,
    seconds: (performance.now() - t0) / 1000,
    history,
  };
}

/**
 * Greedy sensitivity ranking: visit sites from the most to the least sensitive and give each
 * the largest module that still fits the budget. One evaluation (plus the sensitivity
 * measurements the sites already carry).
 */
export async function greedyPlacement(problem: PlacementProblem, evaluator = new Evaluator(problem)): Promise<SearchResult> {
  const t0 = performance.now();
  const order = problem.sites.map((s, i) => ({ i, s: s.sensitivity })).sort((a, b) => b.s - a.s || a.i - b.i);
  const config = new Array<number>(problem.sites.length).fill(0);
  let used = 0;
  for (const { i } of order) {
    for (let a = problem.actions.length - 1; a > 0; a--) {
      const c = problem.cost(i, a);
      if (used + c <= problem.budget + 1e-12) {
        config[i] = a;
        used += c;
        break;
      }
    }
  }
  const before = evaluator.order.length;
  const e = await evaluator.get(config);
  return {
    method: 'greedy',
    best: e,
    evaluations: evaluator.order.length - before,
    seconds: (performance.now() - t0) / 1000,
    history: [e],
  };
}

/** The agent's settings when a ReinforceConfig leaves them out. */
export const REINFORCE_DEFAULTS = { episodes: 400, batch: 16, lr: 0.1, entropy: 0.02, converge: 0.99 } as const;

export interface ReinforceConfig {
  /** Episodes (one configuration sampled each); default 400. */
  episodes?: number;
  /** Episodes per policy update; default 16. */
  batch?: number;
  /** Learning rate of the policy parameters (Adam); default 0.1. */
  lr?: number;
  /** Entropy bonus weight; default 0.02. */
  entropy?: number;
  /** Stop early once the greedy configuration's probability exceeds this; default 0.99. */
  converge?: number;
  seed: number;
}

export interface CurvePoint {
  episode: number;
  /** Mean reward of the batch's sampled configurations, and the best reward found so far. */
  meanReward: number;
  bestReward: number;
  /** Distinct configurations evaluated so far (the search cost). */
  evaluations: number;
  /** Probability of the policy's current greedy configuration. */
  greedyProbability: number;
  entropy: number;
}

export interface RlResult extends SearchResult {
  curve: CurvePoint[];
  /** The trained policy's most probable configuration, and its evaluation. */
  policy: Evaluation;
  episodes: number;
  /** Episodes per policy update (absent in results saved before it was recorded: 16). */
  batch?: number;
}

/**
 * REINFORCE (policy gradient) over sequential per-site decisions. The agent walks the sites in
 * order; at site i its state is the site's features (position, size, sensitivity) plus the share
 * of the budget still unused, and it picks an action (no module, or a module size) from a
 * softmax over
 *
 *   logit(a) = b[i][a] + sum_f w[a][f] * phi_f(state)
 *
 * (per-site preferences plus a linear function of the state shared by all sites). Actions that
 * would exceed the remaining budget are masked out. After the last site the configuration's
 * reward (validation accuracy under variation minus the overhead term) is the episode's return;
 * the update is (R - baseline) * grad log pi with the batch mean as baseline and Adam on the
 * policy parameters, plus an entropy bonus. Evaluations are memoised, so a configuration
 * sampled again costs nothing.
 */
export async function reinforcePlacement(
  problem: PlacementProblem,
  cfg: ReinforceConfig,
  evaluator = new Evaluator(problem),
): Promise<RlResult> {
  const t0 = performance.now();
  const n = problem.sites.length;
  const k = problem.actions.length;
  if (n === 0 || k < 2) throw new XbarError('placement needs at least one site and one module size');
  const episodes = cfg.episodes ?? REINFORCE_DEFAULTS.episodes;
  const batch = Math.max(1, cfg.batch ?? REINFORCE_DEFAULTS.batch);
  const lr = cfg.lr ?? REINFORCE_DEFAULTS.lr;
  const entW = cfg.entropy ?? REINFORCE_DEFAULTS.entropy;
  const converge = cfg.converge ?? REINFORCE_DEFAULTS.converge;
  const rng = new Rng(cfg.seed);
  const nf = 5;
  const maxSize = Math.max(...problem.sites.map((s) => s.size), 1);
  const maxSens = Math.max(...problem.sites.map((s) => Math.abs(s.sensitivity)), 1e-9);
  const phi = (i: number, remaining: number): number[] => {
    const s = problem.sites[i];
    return [1, s.position, Math.log1p(s.size) / Math.log1p(maxSize), s.sensitivity / maxSens, remaining / (problem.budget || 1)];
  };
  // Parameters: b [n][k] then w [k][nf], flattened; Adam state alongside.
  const P = n * k + k * nf;
  const theta = new Float64Array(P);
  const m = new Float64Array(P);
  const v = new Float64Array(P);
  let t = 0;

  const policyAt = (i: number, remaining: number): { probs: number[]; feats: number[]; mask: boolean[] } => {
    const feats = phi(i, remaining);
    const mask = Array.from({ length: k }, (_, a) => a === 0 || problem.cost(i, a) <= remaining + 1e-12);
    const logits = Array.from({ length: k }, (_, a) => {
      if (!mask[a]) return Number.NEGATIVE_INFINITY;
      let z = theta[i * k + a];
      for (let f = 0; f < nf; f++) z += theta[n * k + a * nf + f] * feats[f];
      return z;
    });
    const mx = Math.max(...logits);
    const ex = logits.map((z) => (Number.isFinite(z) ? Math.exp(z - mx) : 0));
    const sum = ex.reduce((a, b) => a + b, 0);
    return { probs: ex.map((e) => e / sum), feats, mask };
  };

  /** Adds coef * d log pi(a) / d theta (and the entropy gradient) into g. */
  const accumulate = (g: Float64Array, i: number, p: { probs: number[]; feats: number[] }, a: number, coef: number) => {
    const H = -p.probs.reduce((acc, q) => acc + (q > 0 ? q * Math.log(q) : 0), 0);
    for (let b = 0; b < k; b++) {
      const q = p.probs[b];
      if (q === 0 && b !== a) continue;
      // d log pi(a)/d z_b = 1[a=b] - q_b; dH/dz_b = -q_b (log q_b + H).
      const dz = coef * ((b === a ? 1 : 0) - q) + (q > 0 ? entW * -q * (Math.log(q) + H) : 0);
      g[i * k + b] += dz;
      for (let f = 0; f < nf; f++) g[n * k + b * nf + f] += dz * p.feats[f];
    }
    return H;
  };

  const greedy = (): { config: number[]; prob: number } => {
    const config: number[] = [];
    let remaining = problem.budget;
    let prob = 1;
    for (let i = 0; i < n; i++) {
      const p = policyAt(i, remaining);
      let a = 0;
      for (let b = 1; b < k; b++) if (p.probs[b] > p.probs[a]) a = b;
      config.push(a);
      prob *= p.probs[a];
      if (a) remaining -= problem.cost(i, a);
    }
    return { config, prob };
  };

  const curve: CurvePoint[] = [];
  let ep = 0;
  while (ep < episodes) {
    const g = new Float64Array(P);
    const samples: { steps: { i: number; p: ReturnType<typeof policyAt>; a: number }[]; reward: number }[] = [];
    let entSum = 0;
    for (let e = 0; e < batch && ep < episodes; e++, ep++) {
      const steps: { i: number; p: ReturnType<typeof policyAt>; a: number }[] = [];
      let remaining = problem.budget;
      for (let i = 0; i < n; i++) {
        const p = policyAt(i, remaining);
        let u = rng.uniform();
        let a = k - 1;
        for (let b = 0; b < k; b++) {
          u -= p.probs[b];
          if (u < 0 && p.probs[b] > 0) {
            a = b;
            break;
          }
        }
        while (!p.mask[a]) a--;
        steps.push({ i, p, a });
        if (a) remaining -= problem.cost(i, a);
      }
      samples.push({ steps, reward: (await evaluator.get(steps.map((s) => s.a))).reward });
    }
    const rewards = samples.map((s) => s.reward);
    const mean = rewards.reduce((a, b) => a + b, 0) / rewards.length;
    const sd = Math.sqrt(rewards.reduce((a, b) => a + (b - mean) ** 2, 0) / rewards.length);
    for (const s of samples) {
      const adv = sd > 1e-12 ? (s.reward - mean) / sd : 0;
      for (const st of s.steps) entSum += accumulate(g, st.i, st.p, st.a, adv / samples.length);
    }
    // Gradient ascent with Adam.
    t++;
    for (let j = 0; j < P; j++) {
      m[j] = 0.9 * m[j] + 0.1 * g[j];
      v[j] = 0.999 * v[j] + 0.001 * g[j] * g[j];
      theta[j] += (lr * (m[j] / (1 - 0.9 ** t))) / (Math.sqrt(v[j] / (1 - 0.999 ** t)) + 1e-8);
    }
    const gr = greedy();
    curve.push({
      episode: ep,
      meanReward: mean,
      bestReward: evaluator.best().reward,
      evaluations: evaluator.order.length,
      greedyProbability: gr.prob,
      entropy: entSum / (samples.length * n),
    });
    if (gr.prob >= converge) break;
  }
  const policy = await evaluator.get(greedy().config);
  const history = evaluator.order.slice();
  return {
    method: 'rl',
    best: evaluator.best(),
    policy,
    evaluations: evaluator.order.length,
    seconds: (performance.now() - t0) / 1000,
    history,
    curve,
    episodes: ep,
    batch,
  };
}
