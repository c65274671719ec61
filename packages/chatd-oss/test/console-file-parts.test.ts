// The console's files (console/file-parts.js) on a small fake document: a file part as a label, an image part with
// an <img> whose source is the blob URL the loader gives (never the API's URL), a failed load said in text; one
// download per file id; the media type an upload gets from the File's type or its extension.
import { describe, expect, it } from 'vitest';
import { createFileUrlCache, editedContent, renderFilePart, uploadMediaType } from '../console/file-parts.js';
import { renderMessageContent, type ToolDocument, type ToolElement } from '../console/tool-parts.js';

type FakeElement = ToolElement & { tag: string; children: FakeElement[]; src?: string; removed?: boolean; remove(): void };

const doc: ToolDocument = {
  createElement(tag: string) {
    const node: FakeElement = {
      tag,
      className: '',
      textContent: '',
      dataset: {},
      children: [],
      append(...nodes: ToolElement[]) {
        node.children.push(...(nodes as FakeElement[]));
      },
      remove() {
        node.removed = true;
      },
    };
    return node;
  },
};

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('console file parts', () => {
  it('shows an image part from the loaded blob URL and a PDF part as a label', async () => {
    const asked: string[] = [];
    const load = async (id: string) => {
      asked.push(id);
      return `blob:page/${id}`;
    };
    const els = renderMessageContent(
      doc,
      [
        { type: 'text', text: 'see' },
        { type: 'file', file_id: 'f1', media_type: 'image/png', name: 'shot.png' },
        { type: 'file', file_id: 'f2', media_type: 'application/pdf', name: '<b>r</b>.pdf' },
      ],
      (p) => renderFilePart(doc, p, load),
    );
    await settle();
    expect(els.map((e) => e.className)).toEqual(['text', 'file', 'file']);
    const [img] = (els[1] as FakeElement).children.filter((c) => c.tag === 'img');
    expect(img?.src).toBe('blob:page/f1');
    expect((els[2] as FakeElement).children.map((c) => c.tag)).toEqual(['span']);
    expect((els[2] as FakeElement).children[0]!.textContent).toBe('📎 <b>r</b>.pdf (application/pdf)');
    expect(asked).toEqual(['f1']);
  });

  it('says a file is unavailable when its download fails', async () => {
    const el = renderFilePart(doc, { file_id: 'gone', media_type: 'image/gif', name: 'g.gif' }, () => Promise.reject(new Error('404'))) as FakeElement;
    await settle();
    expect(el.children[1]?.removed).toBe(true);
    expect(el.children[0]!.textContent).toBe('📎 g.gif (image/gif) — unavailable');
  });

  it('downloads each file once', async () => {
    let downloads = 0;
    const url = createFileUrlCache(
      async () => {
        downloads++;
        return { data: new Uint8Array([1]), mediaType: 'image/png' };
      },
      (blob) => `blob:${blob.type}`,
    );
    expect(await url('a')).toBe('blob:image/png');
    expect(await url('a')).toBe('blob:image/png');
    expect(downloads).toBe(1);
  });

  it('uploads with the file type, or the one its extension names, or not at all', () => {
    expect(uploadMediaType({ name: 'a.png', type: 'image/png' })).toBe('image/png');
    expect(uploadMediaType({ name: 'notes.md', type: '' })).toBe('text/markdown');
    expect(uploadMediaType({ name: 'page.html', type: 'text/html' })).toBe('');
  });
});

describe('console edit content', () => {
  const original = [
    { type: 'text', text: 'what is in these?' },
    { type: 'file', file_id: 'f1', media_type: 'image/png', name: 'a.png' },
    { type: 'file', file_id: 'f2', media_type: 'text/plain' },
  ];

  it("keeps the message's files (as input parts) beside the new text", () => {
    expect(editedContent('  and now?  ', original)).toEqual([
      { type: 'text', text: 'and now?' },
      { type: 'file', file_id: 'f1' },
      { type: 'file', file_id: 'f2' },
    ]);
  });

  it('an emptied text leaves the files alone; nothing at all is no edit', () => {
    expect(editedContent(' ', original)).toEqual([
      { type: 'file', file_id: 'f1' },
      { type: 'file', file_id: 'f2' },
    ]);
    expect(editedContent(' ', [{ type: 'text', text: 'x' }])).toBeNull();
    expect(editedContent('hi', undefined)).toEqual([{ type: 'text', text: 'hi' }]);
  });
});
