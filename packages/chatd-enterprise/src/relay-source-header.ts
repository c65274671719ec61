// The relay source header under the seed's name. The value is @chatd/protocol's, so both sides always agree;
// a stream request that carries it is served from the peer's local state and never relayed again.
import { RELAY_SOURCE_HEADER } from '@chatd/protocol';

/** Marks replica-relayed stream requests (seed 000's `RelaySourceHeader`); its value is this replica's id. */
export const RelaySourceHeader = RELAY_SOURCE_HEADER;
