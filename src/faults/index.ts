export * from './pattern.js';
export * from './render.js';
export * from './spec.js';
