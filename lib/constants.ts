/** Injection token of the validated, defaulted options. Internal. */
export const RESOLVED_OPTIONS = Symbol('RealtimeSecurityResolvedOptions');

/** Metadata keys, namespaced so they never collide with an app's own. */
export const PERMISSION_METADATA = 'realtime-security:permission';
export const PUBLIC_METADATA = 'realtime-security:public';


/** Injection token of this process's node id (presence records carry it). Internal. */
export const NODE_ID = Symbol('RealtimeSecurityNodeId');
