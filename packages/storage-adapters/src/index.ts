export { memoryStore } from './memory/memory-store.js';
