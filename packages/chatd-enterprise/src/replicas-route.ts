// GET /api/experimental/chats/replicas: the live replicas and their running-chat counts, for consoles.
// Any signed-in user may read it (the server authenticates before the handler runs), but a replica's relay
// address is internal topology: only admins see `relay_address`; everyone else gets the entry without it.
// Read-only: replicas register themselves; nothing here changes the registry.
import { CHATS_BASE_PATH, sendJson, type ExtraRoute } from '@chatd/oss';
import type { ReplicaInfo, ReplicaRegistry } from './replica-registry.js';

/** Path of the replica list. */
export const REPLICAS_PATH = `${CHATS_BASE_PATH}/replicas`;

/** A `ReplicaInfo` as a non-admin sees it: no relay address. */
export type PublicReplicaInfo = Omit<ReplicaInfo, 'relay_address'>;

// Listed field by field, so a field added to ReplicaInfo later stays admin-only until it is added here.
const publicReplica = (r: ReplicaInfo): PublicReplicaInfo => ({
  id: r.id,
  worker: r.worker,
  started_at: r.started_at,
  heartbeat_at: r.heartbeat_at,
  running_chats: r.running_chats,
});

/** The replica list route, answering a JSON array of `ReplicaInfo` (without `relay_address` unless the caller is an admin). */
export function createReplicasRoute(registry: Pick<ReplicaRegistry, 'listLive'>): ExtraRoute {
  return {
    method: 'GET',
    path: REPLICAS_PATH,
    auth: true,
    async handler(_req, res, who) {
      const live = await registry.listLive();
      sendJson(res, 200, who?.user.admin === true ? live : live.map(publicReplica));
    },
  };
}
