// The jobs stage's public face: submit, wait and status over a state file (orchestrate.ts), the
// state file and request shapes (model.ts), and the Personalize calls behind them (service.ts).
export * from './model.js';
export * from './orchestrate.js';
export * from './service.js';
