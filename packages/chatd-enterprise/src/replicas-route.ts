// GET /api/experimental/chats/replicas: the live replicas and their running-chat counts, for consoles.
// Any signed-in user may read it (the server authenticates before the handler runs). Read-only: replicas
// register themselves; nothing here changes the registry.
import { CHATS_BASE_PATH, sendJson, type ExtraRoute } from '@chatd/oss';
import type { ReplicaRegistry } from './replica-registry.js';

/** Path of the replica list. */
export const REPLICAS_PATH = `${CHATS_BASE_PATH}/replicas`;

/** The replica list route, answering a JSON array of `ReplicaInfo`. */
export function createReplicasRoute(registry: Pick<ReplicaRegistry, 'listLive'>): ExtraRoute {
  return {
    method: 'GET',
    path: REPLICAS_PATH,
    auth: true,
    async handler(_req, res) {
      sendJson(res, 200, await registry.listLive());
    },
  };
}
