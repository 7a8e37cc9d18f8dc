import type { ChipResult, HeldOutChip, MonteCarloResult, Summary } from '../../src/browser.js';
import type { CorrectorProgress, CorrectorSettings, LayerImpact, LayerMaps } from './engine.js';
import type { Settings } from './settings.js';

/** Messages between the page and its worker (structured-cloned; typed arrays are transferred). */

export interface OpenRequest {
  type: 'open';
  name: string;
  /** An xbar model folder (model.json and weights.bin), or an .onnx file (its bytes in `weights`, no modelJson). */
  format: 'xbar' | 'onnx';
  modelJson: string;
  weights: ArrayBuffer;
  /** The four IDX files, raw or gzipped. */
  data: { trainImages: ArrayBuffer; trainLabels: ArrayBuffer; testImages: ArrayBuffer; testLabels: ArrayBuffer };
}

export type Request =
  | OpenRequest
  | { type: 'maps'; id: number; settings: Settings }
  | { type: 'simulate'; settings: Settings; impactChips: number }
  | { type: 'correct'; settings: Settings; corrector: CorrectorSettings };

export interface ModelInfo {
  name: string;
  dataset: string;
  parameters: number;
  weightedLayers: number;
  /** One line per layer: "dense 64 -> 8". */
  layers: string[];
  classes: number;
  testImages: number;
  softwareAccuracy: number;
}

export interface Simulated {
  type: 'simulated';
  result: MonteCarloResult;
  confusion: Int32Array;
  classes: number;
  device: unknown;
  circuit: unknown;
  /** The fault spec as `xbar simulate` records it (every parameter spelled out). */
  faults: string;
  dataset: string;
}

export type Reply =
  | { type: 'opened'; info: ModelInfo }
  | { type: 'maps'; id: number; maps: LayerMaps[] }
  | { type: 'chip'; chip: ChipResult; done: number; total: number; confusion: Int32Array }
  | Simulated
  | { type: 'impact'; base: number; layers: LayerImpact[] }
  | ({ type: 'correct-progress' } & CorrectorProgress)
  | {
      type: 'corrected';
      name: string;
      parameters: number;
      trainSamples: number;
      trainSeconds: number;
      heldOut: HeldOutChip[];
      uncorrected: Summary;
      corrected: Summary;
    }
  | { type: 'error'; message: string };
