export * from './model.js';
export * from './network.js';
export * from './tech.js';
