// @chatd/protocol: the chatd wire in one browser-safe place (no Node built-ins; depends on zod only).
export { ProtocolError, type ProtocolErrorCode, type ProtocolErrorOptions, type ProtocolValidation } from './protocol-error.js';
