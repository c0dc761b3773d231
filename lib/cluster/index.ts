// Cluster mode is switched on by the `redis` module option; the stores and buses are wired from it.
export { ClusterNodeService, type ReapReport } from './cluster-node.service.js';
