import type { Kernels } from '../core/kernels.js';
import { jsKernels } from '../core/kernels-js.js';
import type { Param } from './tensor.js';

export type OptimizerName = 'adam' | 'sgd';

export interface OptimizerConfig {
  name: OptimizerName;
  lr: number;
  /** SGD momentum. */
  momentum?: number;
  /** Decoupled weight decay (AdamW-style), applied to weights only, not biases. */
  weightDecay?: number;
}

/** One optimisation step over all parameters, with per-parameter state kept inside. */
export interface Optimizer {
  step(params: Param[], lr: number): void;
}

/** `kernels` runs Adam's element-wise step (the same bits on every implementation). */
export function makeOptimizer(cfg: OptimizerConfig, kernels: Kernels = jsKernels): Optimizer {
  return cfg.name === 'adam' ? adam(cfg, kernels) : sgd(cfg);
}

function decays(p: Param): boolean {
  return p.shape.length > 1;
}

function adam(cfg: OptimizerConfig, kernels: Kernels, beta1 = 0.9, beta2 = 0.999, eps = 1e-8): Optimizer {
  const m = new Map<Param, Float32Array>();
  const v = new Map<Param, Float32Array>();
  let t = 0;
  const wd = cfg.weightDecay ?? 0;
  return {
    step(params, lr) {
      t++;
      const c1 = 1 - beta1 ** t;
      const c2 = 1 - beta2 ** t;
      for (const p of params) {
        let mp = m.get(p);
        let vp = v.get(p);
        if (!mp || !vp) {
          mp = new Float32Array(p.value.length);
          vp = new Float32Array(p.value.length);
          m.set(p, mp);
          v.set(p, vp);
        }
        // Element-wise, in the kernels: the JS loop was most of an `mlp` training step.
        kernels.adamStep(p.value, p.grad, mp, vp, { beta1, beta2, c1, c2, lr, eps, decay: decays(p) ? 1 - lr * wd : 1 });
      }
    },
  };
}

function sgd(cfg: OptimizerConfig): Optimizer {
  const vel = new Map<Param, Float32Array>();
  const mu = cfg.momentum ?? 0.9;
  const wd = cfg.weightDecay ?? 0;
  return {
    step(params, lr) {
      for (const p of params) {
        let vp = vel.get(p);
        if (!vp) {
          vp = new Float32Array(p.value.length);
          vel.set(p, vp);
        }
        const decay = decays(p) ? 1 - lr * wd : 1;
        const w = p.value;
        const g = p.grad;
        for (let i = 0; i < w.length; i++) {
          vp[i] = mu * vp[i] + g[i];
          w[i] = w[i] * decay - lr * vp[i];
        }
      }
    },
  };
}
