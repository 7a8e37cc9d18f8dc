import { XbarError } from '../core/errors.js';
import type { Kernels } from '../core/kernels.js';
import { jsKernels } from '../core/kernels-js.js';
import { type PhiloxStream, philoxStream } from '../core/philox.js';
import { Rng } from '../core/rng.js';
import { resolveCircuit } from '../crossbar/circuit.js';
import { calibrateRails } from '../crossbar/plan.js';
import type { Device } from '../device/config.js';
import { Activation } from '../nn/activation.js';
import { Conv2d } from '../nn/conv.js';
import { Dense } from '../nn/dense.js';
import { type Graph, makeGraph } from '../nn/graph.js';
import type { Context, Layer, LayerSpec } from '../nn/layer.js';
import { Model } from '../nn/model.js';
import { type Tensor, tensor } from '../nn/tensor.js';
import type { TrainHooks } from '../nn/train.js';

/** The layers the crossbar simulator maps onto arrays (plan.ts): dense and conv2d, in order. */
export function weightedLayers(model: Model): (Dense | Conv2d)[] {
  return model.layers.filter((l): l is Dense | Conv2d => l instanceof Dense || l instanceof Conv2d);
}

/**
 * What one chip makes of one layer, in software: the same mapping and variation model as
 * programChip (chip.ts) without faults and wires. A = [W; bias] is scaled so that max |A| (per
 * layer, or per column with 'column' scaling) spans the conductance range; each weight becomes
 * G+ = gMin + span * max(a, 0) / scale and G- = gMin + span * max(-a, 0) / scale (quantised to
 * the device's levels), each conductance is multiplied by exp(theta), theta ~ N(0, sigma^2), and
 * the weight read back is (G+ - G-) * scale / span. So a weight becomes w * exp(theta) plus a
 * small offset from the gMin terms, exactly as on the simulated chip.
 *
 * The variation comes from the same Philox stream as programChip's (philoxStream(seed, chip,
 * weighted layer, 1), one cell per weight), so with that stream this returns the chip's wEff bit
 * for bit. With `read.noise` > 0 each conductance is further multiplied by (1 + eta),
 * eta ~ N(0, s^2) drawn from `read.rng` (G+ then G- per weight): one read of the array
 * (noise-injection training draws one per mini-batch).
 */
export function perturbLayer(
  weight: Float32Array,
  bias: Float32Array,
  device: Device,
  scaling: 'layer' | 'column',
  variation: PhiloxStream,
  out: { weight: Float32Array; bias: Float32Array },
  read: { noise: number; rng: Rng } | null = null,
  kernels: Pick<Kernels, 'lognormalPairs'> = jsKernels,
): void {
  const nOut = bias.length;
  const nW = weight.length;
  const n = nW + nOut;
  const at = (i: number) => (i < nW ? weight[i] : bias[i - nW]);
  const colScale = new Float64Array(nOut);
  if (scaling === 'column') {
    for (let i = 0; i < n; i++) colScale[i % nOut] = Math.max(colScale[i % nOut], Math.abs(at(i)));
    for (let j = 0; j < nOut; j++) colScale[j] ||= 1;
  } else {
    let wMax = 0;
    for (let i = 0; i < n; i++) wMax = Math.max(wMax, Math.abs(at(i)));
    colScale.fill(wMax || 1);
  }
  const span = device.gMax - device.gMin;
  const q = device.levels >= 2 ? device.levels - 1 : 0;
  const gPos = new Float64Array(n);
  const gNeg = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const wn = at(i) / colScale[i % nOut];
    let p = wn > 0 ? wn : 0;
    let m = wn < 0 ? -wn : 0;
    if (q) {
      p = Math.round(p * q) / q;
      m = Math.round(m * q) / q;
    }
    gPos[i] = device.gMin + span * p;
    gNeg[i] = device.gMin + span * m;
  }
  if (device.programSigma > 0) kernels.lognormalPairs(gPos, gNeg, device.programSigma, variation, gPos, gNeg);
  const readNoise = read?.noise ?? 0;
  for (let i = 0; i < n; i++) {
    let gp = gPos[i];
    let gn = gNeg[i];
    if (read && readNoise > 0) {
      gp *= 1 + readNoise * read.rng.normal();
      gn *= 1 + readNoise * read.rng.normal();
    }
    const w = ((gp - gn) * colScale[i % nOut]) / span;
    if (i < nW) out.weight[i] = w;
    else out.bias[i - nW] = w;
  }
}

export interface WeightNoiseConfig {
  device: Device;
  scaling?: 'layer' | 'column';
  /** Weighted layers (plan numbering) that get variation; default all. */
  layers?: number[];
  /** Read noise per mini-batch (relative); default the device's readNoise. */
  readNoise?: number;
  seed: number;
  /** Curriculum: sigma and read noise grow linearly from 0 to their values over the first `rampDraws` draws. */
  rampDraws?: number;
  /** Draws the variation (the native kernels draw the same bits faster); default the JS kernels. */
  kernels?: Pick<Kernels, 'lognormalPairs'>;
}

/**
 * Puts a fresh simulated chip's weights into the model and takes them out again: the core of
 * noise-injection (hardware-aware) training, of training compensation modules under variation,
 * and of the error-amplification measurement. The variation of draw d of seed s is that of chip d
 * of seed s in the simulator (programChip, the Philox stream (s, d, layer, 1)), weight for weight.
 */
export class WeightNoise {
  private readonly saved: { weight: Float32Array; bias: Float32Array }[];
  private readonly targets: (Dense | Conv2d)[];
  /** Plan numbering of each target layer (the chip's layer index). */
  private readonly layerIndex: number[];
  private applied = false;

  constructor(
    readonly model: Model,
    readonly cfg: WeightNoiseConfig,
  ) {
    const all = weightedLayers(model);
    const idx = cfg.layers ?? all.map((_, i) => i);
    for (const i of idx)
      if (i < 0 || i >= all.length)
        throw new XbarError(`noise layer ${i} does not exist: the model has weighted layers 0..${all.length - 1}`);
    this.targets = idx.map((i) => all[i]);
    this.layerIndex = idx;
    this.saved = this.targets.map((l) => ({
      weight: new Float32Array(l.weight.value.length),
      bias: new Float32Array(l.bias.value.length),
    }));
  }

  /** Replaces the weights by draw `draw`'s chip; call restore() before the optimizer step. */
  apply(draw: number): void {
    if (this.applied) throw new Error('WeightNoise.apply twice without restore');
    const ramp = this.cfg.rampDraws ? Math.min(1, (draw + 1) / this.cfg.rampDraws) : 1;
    const readNoise = ramp * (this.cfg.readNoise ?? this.cfg.device.readNoise);
    const device = ramp < 1 ? { ...this.cfg.device, programSigma: ramp * this.cfg.device.programSigma } : this.cfg.device;
    this.targets.forEach((l, k) => {
      const sv = this.saved[k];
      sv.weight.set(l.weight.value);
      sv.bias.set(l.bias.value);
      perturbLayer(
        sv.weight,
        sv.bias,
        device,
        this.cfg.scaling ?? 'layer',
        philoxStream(this.cfg.seed, draw, this.layerIndex[k], 1),
        {
          weight: l.weight.value,
          bias: l.bias.value,
        },
        // Read noise from its own sfc32 stream (7; 2-4 and 6 are the chip's defects, programming noise,
        // aging and ADC errors): the software chip's draws, not the chip's.
        readNoise > 0 ? { noise: readNoise, rng: Rng.derive(this.cfg.seed, draw, this.layerIndex[k], 7) } : null,
        this.cfg.kernels,
      );
    });
    this.applied = true;
  }

  restore(): void {
    if (!this.applied) return;
    this.targets.forEach((l, k) => {
      l.weight.value.set(this.saved[k].weight);
      l.bias.value.set(this.saved[k].bias);
    });
    this.applied = false;
  }

  /** Train hooks: a new chip before every forward pass, the clean weights back before the update. */
  hooks(): Pick<TrainHooks, 'beforeForward' | 'afterBackward'> {
    return {
      beforeForward: (step) => this.apply(step),
      afterBackward: () => {
        this.restore();
        return undefined;
      },
    };
  }
}

/** Runs several hook pairs in order (restores before regularisers, so these see clean weights). */
export function composeStepHooks(
  ...hs: Pick<TrainHooks, 'beforeForward' | 'afterBackward'>[]
): Pick<TrainHooks, 'beforeForward' | 'afterBackward'> {
  return {
    beforeForward: (step) => {
      for (const h of hs) h.beforeForward?.(step);
    },
    afterBackward: (step) => {
      let total: number | undefined;
      for (const h of hs) {
        const p = h.afterBackward?.(step);
        if (p !== undefined) total = (total ?? 0) + p;
      }
      return total;
    },
  };
}

/** Clips to [-cap, cap]: a neuron saturating at its supply rail. Transient (never saved). */
class RailClip implements Layer {
  readonly spec: LayerSpec = { type: 'activation', fn: 'linear' };
  readonly params = [];
  readonly outShape: number[];
  cap = Number.POSITIVE_INFINITY;
  private mask: Uint8Array | null = null;
  constructor(readonly inShape: number[]) {
    this.outShape = inShape;
  }
  forward(x: Tensor, ctx: Context): Tensor {
    if (!Number.isFinite(this.cap)) {
      this.mask = null;
      return x;
    }
    const y = tensor(x.shape.slice());
    const c = this.cap;
    const mask = ctx.training ? new Uint8Array(x.data.length) : null;
    for (let i = 0; i < x.data.length; i++) {
      const v = x.data[i];
      y.data[i] = v > c ? c : v < -c ? -c : v;
      if (mask && v >= -c && v <= c) mask[i] = 1;
    }
    this.mask = mask;
    return y;
  }
  backward(dy: Tensor): Tensor {
    const mask = this.mask;
    if (!mask) return dy;
    const dx = tensor(dy.shape.slice());
    for (let i = 0; i < dx.data.length; i++) dx.data[i] = mask[i] ? dy.data[i] : 0;
    this.mask = null;
    return dx;
  }
}

/**
 * The model as the simulated chip computes it in the default circuit: each weighted layer's
 * neuron (its activation) saturates at the rail the simulator calibrates (planCrossbars:
 * railHeadroom x the largest activation on the calibration images; the last layer at
 * railHeadroom x its largest output). `model` shares its layers and parameters with the base
 * model, with a clip after each neuron, so training it trains the base. With WeightNoise on the
 * base, a forward pass of `model` is the simulated chip's (ideal converters and wires, no read
 * noise), and rails keep the rare huge outputs of heavy-tailed variation as bounded as on the chip.
 */
export class Rails {
  readonly model: Model;
  private readonly clips: { weighted: number; clip: RailClip }[] = [];

  constructor(readonly base: Model) {
    if (base.graph) {
      this.model = this.graphWithClips(base, base.graph);
      return;
    }
    const layers: Layer[] = [];
    let w = -1;
    base.layers.forEach((l, i) => {
      layers.push(l);
      if (l instanceof Dense || l instanceof Conv2d) w++;
      const neuronEnds =
        ((l instanceof Dense || l instanceof Conv2d) && !(base.layers[i + 1] instanceof Activation)) ||
        (l instanceof Activation && (base.layers[i - 1] instanceof Dense || base.layers[i - 1] instanceof Conv2d));
      if (neuronEnds) {
        const clip = new RailClip(l.outShape);
        this.clips.push({ weighted: w, clip });
        layers.push(clip);
      }
    });
    this.model = new Model(base.spec, layers);
  }

  /** A graph model's clips: after each weighted node's neuron (its fused activation, plan.ts's rule), read in its place. */
  private graphWithClips(base: Model, graph: Graph): Model {
    const layers: Layer[] = [];
    const names: string[] = [];
    const inputs: number[][] = [];
    const at: number[] = []; // new index of what stands for old node i's output
    const neuronEnd = new Map<number, number>(); // neuron output node -> weighted number
    let w = 0;
    base.layers.forEach((l, i) => {
      if (!(l instanceof Dense || l instanceof Conv2d)) return;
      const readers = graph.consumers[i];
      const fused = readers.length === 1 && base.layers[readers[0]] instanceof Activation;
      neuronEnd.set(fused ? readers[0] : i, w++);
    });
    base.layers.forEach((l, i) => {
      layers.push(l);
      names.push(graph.names[i]);
      inputs.push(graph.inputs[i].map((j) => (j < 0 ? -1 : at[j])));
      at[i] = layers.length - 1;
      const weighted = neuronEnd.get(i);
      if (weighted === undefined) return;
      const clip = new RailClip(l.outShape);
      this.clips.push({ weighted, clip });
      layers.push(clip);
      names.push(`${graph.names[i]}__rail`);
      inputs.push([at[i]]);
      at[i] = layers.length - 1;
    });
    // rails lists them by weighted layer, whatever the order their neurons end in.
    this.clips.sort((a, b) => a.weighted - b.weighted);
    // The clips are transient: the spec stays the base's (never saved from this model).
    return new Model(base.spec, layers, makeGraph(names, inputs));
  }

  /** Sets the rails from the clean network on `n` calibration images, as the simulator does. */
  calibrate(calib: Float32Array, n: number, kernels: Kernels): void {
    const rails = calibrateRails(this.base, resolveCircuit({}), calib, n, kernels);
    for (const { weighted, clip } of this.clips) clip.cap = rails[weighted];
  }

  get rails(): number[] {
    return this.clips.map((c) => c.clip.cap);
  }

  /** Sets the rails directly, one per weighted layer (as `rails` returns them). */
  setRails(rails: number[]): void {
    if (rails.length !== this.clips.length)
      throw new XbarError(`${rails.length} rails for ${this.clips.length} weighted layers: calibrate with the same model`);
    this.clips.forEach((c, k) => {
      c.clip.cap = rails[k];
    });
  }
}
