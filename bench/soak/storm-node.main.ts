/**
 * One node of the reconnect storm: the sample app itself (`sample/main.ts`, configured from the
 * environment the storm sets: PORT, REDIS_URL, NODE_ID, TRUSTED_PROXIES, ...).
 */
import '../../sample/main.js';
