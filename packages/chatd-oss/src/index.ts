export { ChatdError } from './chatd-error.js';
export type { ChatdErrorCode } from './chatd-error.js';
export { RELAY_SOURCE_HEADER } from './relay-source-header.js';
