import type { MemoryPart } from '../core/memory.js';
import type { ModelSpec, SequentialSpec } from './spec.js';

/**
 * A network's peak memory, from its spec alone (no weights allocated): training it, and simulating
 * it on chips. Checked with core/memory.ts checkFits before long work starts.
 */

type LayerSpec = SequentialSpec['layers'][number];

/** One layer's parameters, output shape and activation floats per image, from its input shapes; null if unknown. */
function layerSize(l: LayerSpec, ins: number[][]): { params: number; out: number[]; acts: number } | null {
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const shape = ins[0];
  switch (l.type) {
    case 'dense':
      return { params: (size(shape) + 1) * l.units, out: [l.units], acts: l.units };
    case 'conv2d': {
      if (shape.length !== 3) return null;
      const [h, w, c] = shape;
      const s = l.stride ?? 1;
      const pad = l.pad ?? (l.padding === 'same' ? (l.kernel - 1) / 2 : 0);
      const oh = Math.floor((h + 2 * pad - l.kernel) / s) + 1;
      const ow = Math.floor((w + 2 * pad - l.kernel) / s) + 1;
      // The im2col buffer (one row of kernel^2 x channels per output pixel) and the output.
      const acts = oh * ow * l.kernel * l.kernel * c + oh * ow * l.filters;
      return { params: (l.kernel * l.kernel * c + (l.bias === false ? 0 : 1)) * l.filters, out: [oh, ow, l.filters], acts };
    }
    case 'maxpool':
    case 'avgpool': {
      if (shape.length !== 3) return null;
      const s = l.stride ?? l.size;
      const out = [Math.floor((shape[0] - l.size) / s) + 1, Math.floor((shape[1] - l.size) / s) + 1, shape[2]];
      return { params: 0, out, acts: size(out) };
    }
    case 'globalavgpool':
      return shape.length === 3 ? { params: 0, out: [shape[2]], acts: shape[2] } : null;
    case 'flatten':
      return { params: 0, out: [size(shape)], acts: size(shape) };
    case 'batchnorm': {
      // Scale and shift trained, running mean and variance kept (saved as buffers).
      const ch = shape[shape.length - 1];
      return { params: 2 * ch, out: shape, acts: size(shape) };
    }
    case 'add':
      return { params: 0, out: shape, acts: size(shape) };
    case 'concat': {
      const out = [...shape.slice(0, -1), ins.reduce((a, s) => a + s[s.length - 1], 0)];
      return { params: 0, out, acts: size(out) };
    }
    case 'compensation': {
      // Per-channel scale and shift, plus a rank-r bottleneck: a k x k conv down and a 1x1 conv up (compensation.ts).
      const ch = shape[shape.length - 1];
      const k = l.kernel ?? 1;
      return { params: 2 * ch + (l.rank > 0 ? (k * k * ch + 1) * l.rank + (l.rank + 1) * ch : 0), out: shape, acts: size(shape) };
    }
    case 'activation':
    case 'dropout':
      return { params: 0, out: shape, acts: size(shape) };
    default:
      return null;
  }
}

/**
 * Parameter count and activation floats per image of a spec (sequential or graph), from the
 * layer shapes alone (nothing allocated). Null for a layer this walk does not know or a wiring it
 * cannot follow: no estimate then (the model's own checks report those).
 */
export function specSizes(spec: ModelSpec): { params: number; activationsPerImage: number; largestLayer: number } | null {
  const input = [...spec.inputShape];
  const nodes: { layer: LayerSpec; inputs: string[] | null; name: string }[] =
    'nodes' in spec
      ? spec.nodes.map((n, i) => ({ layer: n, name: n.name, inputs: n.inputs ?? [i === 0 ? 'input' : spec.nodes[i - 1].name] }))
      : spec.layers.map((l, i) => ({ layer: l, name: String(i), inputs: null }));
  const shapes = new Map<string, number[]>([['input', input]]);
  let last = input;
  let params = 0;
  let acts = input.reduce((a, b) => a * b, 1);
  let largestLayer = 0;
  for (const n of nodes) {
    const ins = n.inputs ? n.inputs.map((name) => shapes.get(name)) : [last];
    if (ins.some((s) => s === undefined)) return null;
    const r = layerSize(n.layer, ins as number[][]);
    if (!r) return null;
    params += r.params;
    acts += r.acts;
    if (n.layer.type === 'dense' || n.layer.type === 'conv2d') largestLayer = Math.max(largestLayer, r.params);
    shapes.set(n.name, r.out);
    last = r.out;
  }
  return { params, activationsPerImage: acts, largestLayer };
}

/**
 * Training: parameters with their gradients and Adam's two moments (4 float32 copies), each
 * layer's outputs and their gradients for one batch (2 copies, plus the same again as transient
 * buffers), and the images in memory.
 */
export function trainingMemory(spec: ModelSpec, batchSize: number, images: number): MemoryPart[] | null {
  const s = specSizes(spec);
  if (!s) return null;
  const [h, w, c] = spec.inputShape;
  return [
    { what: `parameters with gradients and optimizer state (${s.params.toLocaleString('en-US')} parameters)`, bytes: 16 * s.params },
    { what: `activations of a batch of ${batchSize}`, bytes: 4 * 4 * batchSize * s.activationsPerImage },
    { what: `${images} images`, bytes: 4 * images * h * w * c },
  ];
}

/**
 * Simulating chips (simulate, correct, correctnet's sweeps, spice compare): the test images, held
 * once and once more in shared memory when workers read them; per worker, a programmed chip (the
 * weights as a conductance pair, their programmed values, the defect map and the ideal copy: about
 * 6 float32 per parameter) and one batch of images through every layer (its outputs and the
 * convolutions' unrolled inputs, twice for the transient buffers). `extra` adds what a command
 * keeps beyond that (the corrector's voltage samples). Null when the spec's sizes are unknown.
 */
export function chipMemory(
  spec: ModelSpec,
  o: { workers: number; images: number; batch?: number; extra?: MemoryPart[] },
): MemoryPart[] | null {
  const s = specSizes(spec);
  if (!s) return null;
  const inputSize = spec.inputShape.reduce((a, b) => a * b, 1);
  const workers = Math.max(1, o.workers);
  const batch = Math.max(1, Math.min(o.images, o.batch ?? 1000));
  const per = workers > 1 ? ` on each of ${workers} workers` : '';
  return [
    { what: `${o.images} test images`, bytes: 4 * o.images * inputSize * (workers > 1 ? 2 : 1) },
    { what: `a programmed chip${per} (${s.params.toLocaleString('en-US')} weights)`, bytes: workers * 24 * s.params },
    { what: `a batch of ${batch} images through the network${per}`, bytes: workers * 2 * 4 * batch * s.activationsPerImage },
    ...(o.extra ?? []),
  ];
}
