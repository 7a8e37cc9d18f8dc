import { type Tensor, tensor } from './tensor.js';

/**
 * Mean softmax cross-entropy over the batch and its gradient w.r.t. the logits, computed together
 * because the gradient is simply softmax - onehot.
 */
export function softmaxCrossEntropy(logits: Tensor, labels: Uint8Array): { loss: number; grad: Tensor; correct: number } {
  const [batch, k] = logits.shape;
  const grad = tensor([batch, k]);
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < batch; i++) {
    const o = i * k;
    let max = -Infinity;
    let arg = 0;
    for (let j = 0; j < k; j++)
      if (logits.data[o + j] > max) {
        max = logits.data[o + j];
        arg = j;
      }
    let sum = 0;
    for (let j = 0; j < k; j++) {
      const e = Math.exp(logits.data[o + j] - max);
      grad.data[o + j] = e;
      sum += e;
    }
    const y = labels[i];
    loss += Math.log(sum) - (logits.data[o + y] - max);
    if (arg === y) correct++;
    for (let j = 0; j < k; j++) grad.data[o + j] = (grad.data[o + j] / sum - (j === y ? 1 : 0)) / batch;
  }
  return { loss: loss / batch, grad, correct };
}

/**
 * Knowledge distillation (Hinton et al.): the mean over the batch of T^2 x KL(softmax(teacher / T)
 * || softmax(logits / T)) and its gradient w.r.t. the logits, T x (p - q) / batch with p, q the
 * tempered softmaxes of logits and teacher. The T^2 keeps the gradient's scale that of
 * cross-entropy; `correct` counts argmax hits on the labels, for logging.
 */
export function distillation(
  logits: Tensor,
  teacher: Float32Array,
  temperature: number,
  labels: Uint8Array,
): { loss: number; grad: Tensor; correct: number } {
  const [batch, k] = logits.shape;
  const grad = tensor([batch, k]);
  const p = new Float64Array(k);
  const q = new Float64Array(k);
  const softmax = (z: ArrayLike<number>, o: number, out: Float64Array) => {
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, z[o + j]);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += out[j] = Math.exp((z[o + j] - max) / temperature);
    for (let j = 0; j < k; j++) out[j] /= sum;
  };
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < batch; i++) {
    const o = i * k;
    softmax(logits.data, o, p);
    softmax(teacher, o, q);
    let arg = 0;
    for (let j = 0; j < k; j++) {
      if (logits.data[o + j] > logits.data[o + arg]) arg = j;
      if (q[j] > 0) loss += temperature * temperature * q[j] * Math.log(q[j] / Math.max(p[j], Number.MIN_VALUE));
      grad.data[o + j] = (temperature * (p[j] - q[j])) / batch;
    }
    if (arg === labels[i]) correct++;
  }
  return { loss: loss / batch, grad, correct };
}

/** Index of the largest logit of each row. */
export function argmaxRows(logits: Float32Array, k: number): Uint8Array {
  const n = logits.length / k;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (logits[i * k + j] > logits[i * k + best]) best = j;
    out[i] = best;
  }
  return out;
}

export function accuracy(pred: Uint8Array, labels: Uint8Array): number {
  let c = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === labels[i]) c++;
  return pred.length ? c / pred.length : 0;
}
