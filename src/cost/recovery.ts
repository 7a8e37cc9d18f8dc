import type { Kernels } from '../core/kernels.js';
import type { Circuit } from '../crossbar/circuit.js';
import { planCrossbars } from '../crossbar/plan.js';
import type { Device } from '../device/config.js';
import { type CompensationSite, withCompensation } from '../mitigation/correctnet/compensation.js';
import type { Model } from '../nn/model.js';
import { blockCost, costNetwork, type DigitalBlock, type LayerCost, type NetworkCost } from './model.js';
import { compensationBlocks, conductances, correctorBlock, costLayers, measureActivity, type Overhead, overhead } from './network.js';
import type { Tech } from './tech.js';

/**
 * The price of a recovery method in joules, seconds and square millimetres: the network's cost
 * on its arrays without the method, with it, and the difference. What `correct` and
 * `correctnet` results carry beside the accuracy the method recovers.
 */
export interface CostSummary {
  energy: number;
  latency: number;
  pipelineInterval: number;
  area: number;
  topsPerWatt: number;
}

export interface RecoveryCost {
  tech: string;
  /** The mapped network alone, and with the method's digital blocks. */
  base: CostSummary;
  withMethod: CostSummary;
  overhead: Overhead;
  /** The method's blocks, each costed (energy and latency terms, area). */
  blocks: LayerCost[];
}

export const summary = (c: NetworkCost): CostSummary => ({
  energy: c.energyTotal,
  latency: c.latency,
  pipelineInterval: c.pipelineInterval,
  area: c.areaTotal,
  topsPerWatt: c.topsPerWatt,
});

/** Where the costs are taken: the simulator's mapping of the model, nominal conductances, activity measured on `calib`. */
export interface RecoveryContext {
  circuit: Circuit;
  device: Device;
  /** Calibration images (training images, as planCrossbars uses) and how many. */
  calib: Float32Array;
  n: number;
  kernels: Kernels;
  tech: Tech;
}

/** Cost of `model` on its arrays with and without `blocks` (the arrays are the same: blocks are digital). */
export function recoveryCost(model: Model, blocks: (circuit: Circuit) => DigitalBlock[], ctx: RecoveryContext): RecoveryCost {
  const plan = planCrossbars(model, ctx.circuit, ctx.calib, ctx.n, ctx.kernels);
  const activity = measureActivity(model, plan, ctx.calib, ctx.n, ctx.kernels);
  const layers = costLayers(model, plan, conductances(plan, ctx.device, { kind: 'nominal' }), activity);
  const base = costNetwork(layers, [], ctx.circuit, ctx.tech);
  const withMethod = costNetwork(layers, blocks(ctx.circuit), ctx.circuit, ctx.tech);
  return {
    tech: ctx.tech.name,
    base: summary(base),
    withMethod: summary(withMethod),
    overhead: overhead(base, withMethod),
    blocks: withMethod.rows.filter((r) => r.kind === 'digital'),
  };
}

/** The price of a model's compensation modules (CorrectNet). */
export function compensationRecoveryCost(model: Model, ctx: RecoveryContext): RecoveryCost {
  return recoveryCost(model, (circuit) => compensationBlocks(model, circuit), ctx);
}

/** The price of an output corrector that reads `features` voltages, the last `outputs` of them the network's outputs. */
export function correctorRecoveryCost(
  model: Model,
  corrector: Model,
  features: number,
  outputs: number,
  ctx: RecoveryContext,
): RecoveryCost {
  return recoveryCost(model, (circuit) => [correctorBlock(corrector, features, outputs, circuit)], ctx);
}

/** The context of the simulator's mapping: the first calibrationImages of `train` (as planCrossbars is calibrated in xbar simulate). */
export function recoveryContext(
  circuit: Circuit,
  device: Device,
  train: { x: Float32Array; n: number },
  kernels: Kernels,
  tech: Tech,
): RecoveryContext {
  const n = Math.min(train.n, circuit.calibrationImages);
  return { circuit, device, calib: train.x.subarray(0, n * (train.x.length / Math.max(1, train.n))), n, kernels, tech };
}

/**
 * A compensation module's overhead as a share of the network's energy or latency per inference:
 * what CorrectNet's placement search weighs instead of parameters (--overhead-measure). The
 * network's cost is taken once; each site's module is costed as a digital block.
 */
export function siteOverhead(base: Model, measure: 'energy' | 'latency', ctx: RecoveryContext): (site: CompensationSite) => number {
  const plan = planCrossbars(base, ctx.circuit, ctx.calib, ctx.n, ctx.kernels);
  const activity = measureActivity(base, plan, ctx.calib, ctx.n, ctx.kernels);
  const net = costNetwork(costLayers(base, plan, conductances(plan, ctx.device, { kind: 'nominal' }), activity), [], ctx.circuit, ctx.tech);
  const whole = measure === 'energy' ? net.energyTotal : net.latency;
  return (site) => {
    const blocks = compensationBlocks(withCompensation(base, [site]), ctx.circuit).map((b) => blockCost(b, ctx.tech));
    return blocks.reduce((a, b) => a + (measure === 'energy' ? b.energyTotal : b.latency), 0) / whole;
  };
}
