import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
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

/** The type the bytes are, among those kuzet knows; undefined for anything else (executables, scripts, archives). */
export function detectType(b: Buffer): AttachmentType | undefined {
  if (starts(b, '%PDF-')) return 'pdf';
  if (starts(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (starts(b, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (starts(b, 'GIF87a') || starts(b, 'GIF89a')) return 'gif';
  if (starts(b, 'RIFF') && starts(b, 'WEBP', 8)) return 'webp';
  if (starts(b, [0x50, 0x4b, 0x03, 0x04])) {
    // An Office Open XML package: a zip whose entries name the part. Macro-enabled packages are not accepted.
    if (!b.includes('[Content_Types].xml') || b.includes('vbaProject.bin')) return undefined;
    if (b.includes('word/document.xml')) return 'docx';
    if (b.includes('xl/workbook.xml')) return 'xlsx';
  }
  return undefined;
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

  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  async save(files: CheckedFile[]): Promise<StoredAttachment[]> {
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
  }

  async removeAll(names: string[]): Promise<void> {
    for (const n of names) await this.remove(n).catch(() => {});
  }
}
