export * from './pattern.js';
export * from './schema.js';
export * from './render.js';
export * from './spec.js';
