export * from './security-inventory.service.js';
export * from './security-inventory.interface.js';
export { formatInventory } from './inventory.formatter.js';
