import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadKernels } from '../../src/core/kernels-node.js';
import { loadDataset } from '../../src/data/node.js';
import { parseNpy } from '../../src/data/npy.js';
import { argmaxRows } from '../../src/nn/loss.js';
import { readOnnxFile } from '../../src/onnx/node.js';

/**
 * The PyTorch fixtures (scripts/make-onnx-fixtures.py): xbar's import of each network, at both
 * opsets, gives PyTorch's logits on the first 1000 MNIST test images within 1e-4 with the same
 * argmax on every image, and PyTorch's accuracy on the whole test set, image for image.
 */
const dir = join(import.meta.dirname, '../fixtures/onnx');
const meta = JSON.parse(readFileSync(join(dir, 'fixtures.json'), 'utf8')) as {
  logitImages: number;
  models: Record<string, { testCorrect: number; testAccuracy: number }>;
};
const kernels = loadKernels({});
const ds = loadDataset('mnist');

function pytorchLogits(name: string): Float32Array {
  return parseNpy(new Uint8Array(readFileSync(join(dir, `${name}-logits.npy`))), name).data as Float32Array;
}

describe.each(['mlp', 'lenet', 'resnet'])('the %s fixture', (name) => {
  const ref = pytorchLogits(name);
  it.each([13, 17])(
    'opset %i: logits within 1e-4, same argmax, same whole-test accuracy',
    (opset) => {
      const { model, provenance } = readOnnxFile(join(dir, `${name}-op${opset}.onnx`), { imageShape: [1, 28, 28] });
      expect(provenance.opset).toBe(opset);
      expect(provenance.producer).toBe('pytorch');
      const n = meta.logitImages;
      const y = model.predict(ds.test.x, ds.test.n, kernels);
      let worst = 0;
      for (let i = 0; i < n * 10; i++) worst = Math.max(worst, Math.abs(y[i] - ref[i]));
      expect(worst).toBeLessThan(1e-4);
      const ours = argmaxRows(y, 10);
      expect(Array.from(ours.subarray(0, n))).toEqual(Array.from(argmaxRows(ref, 10)));
      let correct = 0;
      for (let i = 0; i < ds.test.n; i++) if (ours[i] === ds.test.y[i]) correct++;
      expect(correct).toBe(meta.models[name].testCorrect);
    },
    600_000,
  ); // the whole test set through the ResNet: ~15 s alone, minutes on a loaded machine
});

describe('what the import records', () => {
  it('drops the MLP softmax and folds the LeNet batch norm, and says so', () => {
    const mlp = readOnnxFile(join(dir, 'mlp-op17.onnx'), { imageShape: [1, 28, 28] }).provenance;
    expect(mlp.transformations.some((t) => /dropped Softmax/.test(t))).toBe(true);
    const lenet = readOnnxFile(join(dir, 'lenet-op13.onnx'), { imageShape: [1, 28, 28] }).provenance;
    expect(lenet.transformations.some((t) => /folded BatchNormalization .* into Gemm/.test(t))).toBe(true);
    expect(lenet.sha256).toMatch(/^[0-9a-f]{64}$/);
  });
});
