import fc from 'fast-check';

// Property tests run from a fixed seed so that CI is repeatable; set XBAR_FC_SEED to explore others.
fc.configureGlobal({ seed: Number(process.env.XBAR_FC_SEED ?? 20261123) });
