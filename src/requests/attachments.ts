import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rm, stat, statfs } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { join, resolve } from 'node:path';
import type { AttachmentType } from './config.ts';
import type { StoredAttachment } from './service.ts';

// Attachments: the type is decided by the bytes (magic numbers), never by the name or the declared media type; the
// name the user gave must agree. Files are written under a generated name, mode 0600 (never executable), in a
// folder that nothing serves, and only after the whole request has passed validation.

export type AttachmentProblem = 'file_name' | 'file_type' | 'file_mismatch';

/** Only names kuzet generated are ever opened or removed. */
const STORED_NAME = /^[0-9a-f]{32}\.[a-z]{3,4}$/;

const TYPES: Record<AttachmentType, { media: string; ext: string[] }> = {
  pdf: { media: 'application/pdf', ext: ['pdf'] },
  png: { media: 'image/png', ext: ['png'] },
  jpeg: { media: 'image/jpeg', ext: ['jpg', 'jpeg'] },
  gif: { media: 'image/gif', ext: ['gif'] },
  webp: { media: 'image/webp', ext: ['webp'] },
  docx: { media: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', ext: ['docx'] },
  xlsx: { media: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', ext: ['xlsx'] },
};

const starts = (b: Buffer, sig: number[] | string, at = 0) => {
  const bytes = typeof sig === 'string' ? Buffer.from(sig, 'latin1') : Buffer.from(sig);
  return b.length >= at + bytes.length && b.subarray(at, at + bytes.length).equals(bytes);
};

/**
 * The type the bytes are, among those kuzet knows; undefined for anything else (executables, scripts, archives).
 * The first bytes name a candidate; the file's structure must then hold up, so a page of HTML behind a `%PDF`
 * prefix, or a truncated image, is refused.
 */
export function detectType(b: Buffer): AttachmentType | undefined {
  if (starts(b, '%PDF-')) return pdfHolds(b) ? 'pdf' : undefined;
  if (starts(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return pngHolds(b) ? 'png' : undefined;
  if (starts(b, [0xff, 0xd8, 0xff])) return jpegHolds(b) ? 'jpeg' : undefined;
  if (starts(b, 'GIF87a') || starts(b, 'GIF89a')) return b.length > 13 && b[b.length - 1] === 0x3b ? 'gif' : undefined;
  if (starts(b, 'RIFF') && starts(b, 'WEBP', 8)) return b.length >= 20 && b.readUInt32LE(4) + 8 === b.length + (b.length % 2) ? 'webp' : undefined;
  if (starts(b, [0x50, 0x4b, 0x03, 0x04])) {
    // An Office Open XML package: a zip (its end-of-central-directory record near the end) whose entries name the
    // part. Macro-enabled packages are not accepted.
    if (b.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06])) < Math.max(0, b.length - 65_557)) return undefined;
    if (!b.includes('[Content_Types].xml') || b.includes('vbaProject.bin')) return undefined;
    if (b.includes('word/document.xml')) return 'docx';
    if (b.includes('xl/workbook.xml')) return 'xlsx';
  }
  return undefined;
}

/** Markup a browser would sniff as a page, where a document's header and first objects are. */
const MARKUP = /<\s*(!doctype|html|head|body|script|iframe|object|embed|meta|svg|img|a\s|form|style|link)\b/i;

/**
 * A PDF: a version header, indirect objects, and a tail of `startxref <offset> %%EOF` whose offset points at a cross-
 * reference table (`xref`) or stream (`N G obj`); no HTML in its first kilobytes.
 */
export function pdfHolds(b: Buffer): boolean {
  const head = b.subarray(0, 4096).toString('latin1');
  if (!/^%PDF-\d\.\d/.test(head) || MARKUP.test(head)) return false;
  const tail = b.subarray(Math.max(0, b.length - 2048)).toString('latin1');
  const m = /startxref\s+(\d{1,12})\s+%%EOF[\r\n\s]*$/.exec(tail);
  if (!m) return false;
  const at = Number(m[1]);
  if (at <= 0 || at >= b.length) return false;
  const there = b.subarray(at, at + 64).toString('latin1');
  if (!/^\s*(xref\b|\d+\s+\d+\s+obj\b)/.test(there)) return false;
  return /\d+\s+\d+\s+obj\b/.test(b.toString('latin1', 0, Math.min(b.length, 1 << 20))) && b.includes('endobj');
}

/** A PNG: chunks with valid lengths and CRCs, IHDR first (13 bytes), IEND last and at the very end. */
export function pngHolds(b: Buffer): boolean {
  let at = 8;
  let first = true;
  while (at + 12 <= b.length) {
    const len = b.readUInt32BE(at);
    const type = b.toString('latin1', at + 4, at + 8);
    if (!/^[A-Za-z]{4}$/.test(type) || len > b.length - at - 12) return false;
    if (first && (type !== 'IHDR' || len !== 13)) return false;
    first = false;
    if (crc32(b.subarray(at + 4, at + 8 + len)) !== b.readUInt32BE(at + 8 + len)) return false;
    at += 12 + len;
    if (type === 'IEND') return len === 0 && at === b.length;
  }
  return false;
}

/** A JPEG: well-formed marker segments up to a frame header and the start of scan, and the end-of-image marker last. */
export function jpegHolds(b: Buffer): boolean {
  let at = 2;
  let frame = false;
  while (at + 4 <= b.length) {
    if (b[at] !== 0xff) return false;
    const marker = b[at + 1]!;
    if (marker === 0xff) {
      at++;
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2;
      continue;
    }
    const len = b.readUInt16BE(at + 2);
    if (len < 2 || at + 2 + len > b.length) return false;
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) frame = true;
    if (marker === 0xda) {
      let end = b.length;
      while (end > 0 && b[end - 1] === 0x00) end--; // some cameras pad after the image
      return frame && end >= at + 2 + len + 2 && b[end - 2] === 0xff && b[end - 1] === 0xd9;
    }
    at += 2 + len;
  }
  return false;
}

/** A bare file name: no path, no control or reserved characters, not hidden, at most 200 characters. */
export function fileNameProblem(name: string): boolean {
  if (!name || [...name].length > 200) return true;
  // eslint-disable-next-line no-control-regex
  if (/[/\\\u0000-\u001f\u007f:*?"<>|\ufffd]/.test(name)) return true;
  return name.startsWith('.') || name.trim() !== name;
}

export interface CheckedFile {
  type: AttachmentType;
  media: string;
  ext: string;
  originalName: string;
  bytes: Buffer;
  sha256: string;
}

/** Decide whether a file may be attached. */
export function checkFile(name: string, bytes: Buffer, allowed: readonly AttachmentType[]): CheckedFile | AttachmentProblem {
  if (fileNameProblem(name)) return 'file_name';
  const type = detectType(bytes);
  if (!type || !allowed.includes(type)) return 'file_type';
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
  if (!TYPES[type].ext.includes(ext)) return 'file_mismatch';
  return { type, media: TYPES[type].media, ext: TYPES[type].ext[0]!, originalName: name, bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

export const allowedExtensions = (types: readonly AttachmentType[]): string => types.flatMap((t) => TYPES[t].ext).map((e) => `.${e}`).join(', ');

/** The attachment folder: writes new files exclusively, removes them by stored name only. */
export class AttachmentStore {
  readonly dir: string;
  /** Bytes of the files in the folder: counted once, then kept up to date by save and remove. */
  #used: Promise<number> | null = null;
  #sizes = new Map<string, number>();

  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  /** Bytes stored now. */
  async used(): Promise<number> {
    this.#used ??= (async () => {
      let n = 0;
      const names = await readdir(this.dir).catch(() => [] as string[]);
      for (const name of names) {
        if (!STORED_NAME.test(name)) continue;
        const st = await stat(join(this.dir, name)).catch(() => null);
        if (st?.isFile()) {
          this.#sizes.set(name, st.size);
          n += st.size;
        }
      }
      return n;
    })();
    return this.#used;
  }

  /**
   * Whether `bytes` more fit: under the global quota, and leaving at least `minFree` bytes free on the file system
   * (so the disk never fills, whatever else writes to it).
   */
  async room(bytes: number, quota: number, minFree: number): Promise<'ok' | 'quota' | 'disk'> {
    if ((await this.used()) + bytes > quota) return 'quota';
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const fs = await statfs(this.dir).catch(() => null);
    if (fs && fs.bavail * fs.bsize - bytes < minFree) return 'disk';
    return 'ok';
  }

  #count(name: string, size: number | null): void {
    const before = this.#sizes.get(name) ?? 0;
    if (size === null) this.#sizes.delete(name);
    else this.#sizes.set(name, size);
    const delta = (size ?? 0) - before;
    if (this.#used && delta) this.#used = this.#used.then((n) => n + delta);
  }

  async save(files: CheckedFile[]): Promise<StoredAttachment[]> {
    await this.used();
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const saved: StoredAttachment[] = [];
    try {
      for (const f of files) {
        const storedName = `${randomBytes(16).toString('hex')}.${f.ext}`;
        const fh = await open(join(this.dir, storedName), 'wx', 0o600);
        try {
          await fh.writeFile(f.bytes);
          await fh.sync();
        } finally {
          await fh.close();
        }
        this.#count(storedName, f.bytes.length);
        saved.push({ storedName, originalName: f.originalName, mediaType: f.media, size: f.bytes.length, sha256: f.sha256 });
      }
      return saved;
    } catch (err) {
      await this.removeAll(saved.map((s) => s.storedName));
      throw err;
    }
  }

  async read(storedName: string): Promise<Buffer> {
    if (!STORED_NAME.test(storedName)) throw new Error(`not an attachment name: ${storedName}`);
    return readFile(join(this.dir, storedName));
  }

  async remove(storedName: string): Promise<void> {
    if (!STORED_NAME.test(storedName)) throw new Error(`not an attachment name: ${storedName}`);
    await rm(join(this.dir, storedName), { force: true });
    this.#count(storedName, null);
  }

  async removeAll(names: string[]): Promise<void> {
    for (const n of names) await this.remove(n).catch(() => {});
  }
}
