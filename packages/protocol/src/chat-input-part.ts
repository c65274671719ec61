// What users send as message content on create, send and edit (contract.md#chat-input, contract.md#files): `text` parts and
// `file` parts that name an uploaded file. A part's `type` is read trimmed and lower-cased, as the original does; a
// text is trimmed and may not end up empty. Parsing keeps only the fields of the part's type (a `file` part's
// `media_type` and `name` are the server's to fill from the file). Whose file an id names is the server's business.
import { z } from 'zod';

// The original compares the type trimmed and lower-cased; anything not a string is left for the union to refuse.
const normaliseType = (v: unknown) =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as { type?: unknown }).type === 'string'
    ? { ...v, type: (v as { type: string }).type.trim().toLowerCase() }
    : v;

/** A `text` input part; `text` is trimmed and must not be empty. */
export const textInputPartSchema = z.object({ type: z.literal('text'), text: z.string().trim().min(1) });

/** A `file` input part: the id of a file the user uploaded (0.4). */
export const fileInputPartSchema = z.object({ type: z.literal('file'), file_id: z.string().min(1) });

/** One input part, by its (trimmed, lower-cased) `type`. */
export const chatInputPartSchema = z.preprocess(normaliseType, z.discriminatedUnion('type', [textInputPartSchema, fileInputPartSchema]));
/** One input part as parsed (type normalised, text trimmed). */
export type ChatInputPart = z.output<typeof chatInputPartSchema>;

/** The `content` of a create, send or edit request: at least one part. */
export const chatInputContentSchema = z.array(chatInputPartSchema).min(1);
/** The `content` of a create, send or edit request, as parsed. */
export type ChatInputContent = z.output<typeof chatInputContentSchema>;
