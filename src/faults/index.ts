export * from './pattern.js';
export * from './render.js';
export * from './schema.js';
export * from './spec.js';
