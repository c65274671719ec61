export { RelayDialError } from './relay-dial-error.js';
import { RELAY_SOURCE_HEADER } from '@chatd/oss';
/** Marks replica-relayed stream requests (seed 000's `RelaySourceHeader`). */
export const RelaySourceHeader = RELAY_SOURCE_HEADER;
