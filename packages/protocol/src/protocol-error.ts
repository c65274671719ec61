// The protocol package's one error class: what a wire value (a cursor query, a frame, a credential) got wrong.
// Servers map it to their own error (chatd: INVALID_INPUT, 400 with `validations`); it never names HTTP itself.

/** Error codes raised by `@chatd/protocol`. */
export type ProtocolErrorCode =
  /** A stream cursor (`after_id`, `after_seq`, `run_id`) is malformed or incomplete; `validations` names the field. */
  | 'INVALID_CURSOR'
  /** A stream frame is not the JSON shape of the protocol. */
  | 'INVALID_FRAME';

/** One field-level problem, in the shape of an error body's `validations`. */
export type ProtocolValidation = { field: string; detail: string };

/** Options of a `ProtocolError`. */
export type ProtocolErrorOptions = {
  cause?: unknown;
  /** Field-level problems (wire field names). */
  validations?: ProtocolValidation[];
};

/** Error raised by `@chatd/protocol`; callers branch on `code`, never on the message. */
export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  readonly validations: ProtocolValidation[] | undefined;
  constructor(code: ProtocolErrorCode, message: string, options?: ProtocolErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProtocolError';
    this.code = code;
    this.validations = options?.validations;
  }
}

