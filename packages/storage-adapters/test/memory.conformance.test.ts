import { memoryStore } from '@rialto-exchange/storage-adapters';
import { runStoreConformance } from '@rialto-exchange/storage-adapters/conformance';

runStoreConformance('memoryStore', () => ({ store: memoryStore() }));
