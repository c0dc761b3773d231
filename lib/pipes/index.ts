export * from './ws-validation.pipe.js';
export * from './ws-validation-pipe-options.interface.js';
