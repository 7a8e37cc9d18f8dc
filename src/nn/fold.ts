import { BatchNorm } from './batchnorm.js';
import { Conv2d } from './conv.js';
import { Dense } from './dense.js';
import { graphOf, resolvedInputs, withInputs } from './graph.js';
import type { LayerSpec } from './layer.js';
import { buildModel, type Model } from './model.js';
import type { GraphSpec, ModelSpec, NodeSpec } from './spec.js';

/**
 * The model with every batch norm that alone reads a dense or conv2d layer folded into that
 * layer: at inference the norm is y = x * scale + shift per channel, so the layer's weight
 * columns are multiplied by scale and its bias becomes bias * scale + shift (a conv without a
 * bias gains one). This is what a crossbar holds: the arrays compute the normalised output, and
 * nothing is left for the periphery. Other batch norms (after an addition, or on an output that
 * other nodes also read) stay, and run in the periphery. Returns the model itself when nothing
 * folds. Outputs match the original's up to float rounding (the products are reassociated).
 */
export function foldBatchNorm(model: Model): Model {
  const graph = graphOf(model);
  // Norm node -> the weighted node it folds into.
  const folds = new Map<number, number>();
  model.layers.forEach((l, i) => {
    if (!(l instanceof BatchNorm)) return;
    const [src] = graph.inputs[i];
    const w = model.layers[src];
    if (src >= 0 && (w instanceof Dense || w instanceof Conv2d) && graph.consumers[src].length === 1) folds.set(i, src);
  });
  if (!folds.size) return model;
  const into = new Map([...folds].map(([bn, w]) => [w, bn]));
  const withBias = (ls: LayerSpec): LayerSpec => (ls.type === 'conv2d' ? (({ bias: _b, ...rest }) => rest)(ls) : ls);
  let spec: ModelSpec;
  if (model.graph && 'nodes' in model.spec) {
    const names = graph.names;
    // Readers of a folded norm read its layer instead.
    const inputs = resolvedInputs(model.spec).map((ins) => ins.map((name) => names[folds.get(names.indexOf(name)) ?? -1] ?? name));
    const kept = model.spec.nodes.flatMap((node, i) =>
      folds.has(i) ? [] : [{ node: (into.has(i) ? { ...withBias(node), name: node.name } : node) as NodeSpec, inputs: inputs[i] }],
    );
    spec = { inputShape: model.spec.inputShape, nodes: withInputs(kept) } satisfies GraphSpec;
  } else {
    const layers = (model.spec as { layers: LayerSpec[] }).layers;
    spec = {
      inputShape: model.spec.inputShape,
      layers: layers.flatMap((ls, i) => (folds.has(i) ? [] : [into.has(i) ? withBias(ls) : ls])),
    };
  }
  const out = buildModel(spec, 0);
  // Copy parameters layer by layer (sequential norms are renumbered, so names do not match).
  const kept = model.layers.map((_, i) => i).filter((i) => !folds.has(i));
  kept.forEach((i, k) => {
    const src = model.layers[i];
    const dst = out.layers[k];
    const bn = into.get(i);
    if (bn === undefined || !(src instanceof Dense || src instanceof Conv2d) || !(dst instanceof Dense || dst instanceof Conv2d)) {
      src.params.forEach((p, j) => {
        dst.params[j].value.set(p.value);
      });
      return;
    }
    const { scale, shift } = (model.layers[bn] as BatchNorm).affine();
    const [nIn, nOut] = src.weight.shape;
    const w = src.weight.value;
    for (let r = 0; r < nIn; r++) for (let j = 0; j < nOut; j++) dst.weight.value[r * nOut + j] = w[r * nOut + j] * scale[j];
    for (let j = 0; j < nOut; j++) dst.bias.value[j] = src.bias.value[j] * scale[j] + shift[j];
  });
  return out;
}
