// Types of file-parts.js for the tests (this file is not served).
import type { ToolDocument, ToolElement } from './tool-parts.js';
export declare const FILE_TYPES_BY_EXTENSION: Record<string, string>;
export declare function uploadMediaType(file: { name?: string; type?: string }): string;
export declare function renderFilePart(doc: ToolDocument, part: { file_id: string; media_type?: string; name?: string }, loadUrl: (id: string) => Promise<string>): ToolElement;
export declare function createFileUrlCache(getFile: (id: string) => Promise<{ data: Uint8Array; mediaType: string }>, createObjectURL: (blob: Blob) => string): (id: string) => Promise<string>;
export declare function editedContent(text: string, original: readonly { type: string; file_id?: string; text?: string }[] | undefined): ({ type: 'text'; text: string } | { type: 'file'; file_id: string })[] | null;
