import { InMemoryConnectionLeaseStore, InMemoryPresenceStore } from '../../lib/index.js';
import { describeConnectionLeaseStoreContract } from './connection-lease-store.contract.js';
import { describePresenceStoreContract } from './presence-store.contract.js';

describeConnectionLeaseStoreContract('in-memory', () => new InMemoryConnectionLeaseStore());
describePresenceStoreContract('in-memory', () => new InMemoryPresenceStore());
