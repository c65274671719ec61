// Uploaded files (contract.md#files): one row of `chat_files` a file, bytes in `bytea` with their SHA-256, media
// type, name, uploader and organization. Every read but the model's is scoped to the uploader: another user's file
// is as absent as a missing one. The retention sweep deletes files no message names once they are old enough.
import { createHash, randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Clock } from '@chatd/clock';
import { isUuid } from '@chatd/protocol';

/** Files deleted by one sweep statement at most (the sweep repeats until a batch comes back short). @default 500 */
export const FILE_SWEEP_BATCH = 500;

/** What an upload stores. */
export type NewFile = {
  ownerId: string;
  organizationId?: string;
  name?: string;
  mediaType: string;
  data: Uint8Array;
};

/** A file's description (no bytes). */
export type FileInfo = { id: string; ownerId: string; organizationId: string | null; name: string | null; mediaType: string; size: number; sha256: string; createdAtMs: number };

/** A file with its bytes. */
export type StoredFile = FileInfo & { data: Uint8Array };

/** The `chat_files` table. */
export interface FileStore {
  /** Stores a file; answers its new id. */
  insertFile(file: NewFile): Promise<FileInfo>;
  /** The file with its bytes when `ownerId` uploaded it; undefined otherwise (also for ids that are no UUID). */
  getFile(id: string, ownerId: string): Promise<StoredFile | undefined>;
  /** The descriptions of those of `ids` that `ownerId` uploaded, by (lower-case) id; one query. */
  describeOwnedFiles(ids: readonly string[], ownerId: string): Promise<Map<string, FileInfo>>;
  /** The bytes of `ids` (the model's read: the chat's owner was checked when the parts were stored); one query. */
  readFileBytes(ids: readonly string[]): Promise<Map<string, Uint8Array>>;
  /** Deletes files uploaded before `cutoffMs` that no message or queued message names; answers how many. */
  sweepUnreferenced(cutoffMs: number): Promise<number>;
}

type FileRow = { id: string; owner_id: string; organization_id: string | null; name: string | null; media_type: string; size: number; sha256: Buffer; created_at: Date };

const INFO_COLUMNS = 'id, owner_id, organization_id, name, media_type, size, sha256, created_at';

function toInfo(r: FileRow): FileInfo {
  return {
    id: r.id,
    ownerId: r.owner_id,
    organizationId: r.organization_id,
    name: r.name,
    mediaType: r.media_type,
    size: r.size,
    sha256: r.sha256.toString('hex'),
    createdAtMs: r.created_at.getTime(),
  };
}

const uuids = (ids: readonly string[]) => [...new Set(ids.filter(isUuid).map((id) => id.toLowerCase()))];

/** Creates the file store on `pool`; upload times come from `clock`. */
export function createFileStore(options: { pool: pg.Pool; clock: Clock }): FileStore {
  const { pool, clock } = options;
  return {
    async insertFile(file) {
      const id = randomUUID();
      const data = Buffer.from(file.data.buffer, file.data.byteOffset, file.data.byteLength);
      const sha256 = createHash('sha256').update(data).digest();
      const { rows } = await pool.query<FileRow>(
        `INSERT INTO chat_files (id, owner_id, organization_id, name, media_type, size, sha256, data, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, to_timestamp($9::double precision / 1000))
         RETURNING ${INFO_COLUMNS}`,
        [id, file.ownerId, file.organizationId ?? null, file.name ?? null, file.mediaType, data.length, sha256, data, clock.nowMs()],
      );
      return toInfo(rows[0]!);
    },
    async getFile(id, ownerId) {
      if (!isUuid(id)) return undefined;
      const { rows } = await pool.query<FileRow & { data: Buffer }>(`SELECT ${INFO_COLUMNS}, data FROM chat_files WHERE id = $1 AND owner_id = $2`, [id.toLowerCase(), ownerId]);
      const row = rows[0];
      return row ? { ...toInfo(row), data: new Uint8Array(row.data.buffer, row.data.byteOffset, row.data.byteLength) } : undefined;
    },
    async describeOwnedFiles(ids, ownerId) {
      const wanted = uuids(ids);
      if (wanted.length === 0) return new Map();
      const { rows } = await pool.query<FileRow>(`SELECT ${INFO_COLUMNS} FROM chat_files WHERE id = ANY($1::uuid[]) AND owner_id = $2`, [wanted, ownerId]);
      return new Map(rows.map((r) => [r.id, toInfo(r)]));
    },
    async readFileBytes(ids) {
      const wanted = uuids(ids);
      if (wanted.length === 0) return new Map();
      const { rows } = await pool.query<{ id: string; data: Buffer }>('SELECT id, data FROM chat_files WHERE id = ANY($1::uuid[])', [wanted]);
      return new Map(rows.map((r) => [r.id, new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength)]));
    },
    async sweepUnreferenced(cutoffMs) {
      let deleted = 0;
      for (;;) {
        // `@>` with a one-part array is what the partial GIN indexes of migration 0013 answer.
        const { rowCount } = await pool.query(
          `DELETE FROM chat_files WHERE id IN (
             SELECT f.id FROM chat_files f
              WHERE f.created_at < to_timestamp($1::double precision / 1000)
                AND NOT EXISTS (SELECT 1 FROM chat_messages m
                                 WHERE m.role = 'user' AND m.content @> jsonb_build_array(jsonb_build_object('type', 'file', 'file_id', f.id::text)))
                AND NOT EXISTS (SELECT 1 FROM chat_queued_messages q
                                 WHERE q.content @> jsonb_build_array(jsonb_build_object('type', 'file', 'file_id', f.id::text)))
              LIMIT $2)`,
          [cutoffMs, FILE_SWEEP_BATCH],
        );
        deleted += rowCount ?? 0;
        if ((rowCount ?? 0) < FILE_SWEEP_BATCH) return deleted;
      }
    },
  };
}
