/** SPICE cross-check (Node only): netlists of the analog network, engines to run them, comparison with the behavioural model. */
export { type ChipComparison, type CompareConfig, type CompareResult, type CompareSummary, compareWithSpice } from './compare.js';
export { type EngineChoice, type EngineLookup, parseRaw, type SpiceEngine, type SpiceRun, selectEngine } from './engine.js';
export { buildNetlist, checkSpiceSupport, type NetlistOptions, netlistText, type SpiceNetlist } from './netlist.js';
export { runNetlist, type SpiceFailure, type SpiceOutputs } from './run.js';
