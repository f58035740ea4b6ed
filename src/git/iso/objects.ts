/**
 * Objects read in-process, loose and packed (isomorphic-git's pack reader,
 * loaded lazily), with no git process: what IsoGit reads trees, commits and
 * blobs with, and what the file transport copies.
 */
import * as fs from 'node:fs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ObjectType } from '../objects.js';
import { loadIso } from './load.js';

export interface RawObject {
  type: ObjectType | 'tag';
  body: Buffer;
}

/** One repository's objects; keeps isomorphic-git's pack cache between reads (one per round). */
export class IsoObjects {
  private readonly cache: object = {};
  constructor(readonly gitDir: string) {}

  /** An object's type and content, or null when the repository does not have it. */
  async read(oid: string): Promise<RawObject | null> {
    if (!/^[0-9a-f]{40}$/.test(oid)) return null;
    const git = await loadIso();
    try {
      const r = await git.readObject({ fs, gitdir: this.gitDir, oid, format: 'content', cache: this.cache });
      const body = r.object as Uint8Array;
      return { type: r.type as RawObject['type'], body: Buffer.from(body.buffer, body.byteOffset, body.byteLength) };
    } catch (e) {
      if ((e as { code?: string }).code === 'NotFoundError') return null;
      throw e;
    }
  }

  /** The content only (for callers that know the type), or null. */
  async content(oid: string): Promise<Buffer | null> {
    return (await this.read(oid))?.body ?? null;
  }

  /** Whether the object is here (a loose file, else in a pack). */
  async has(oid: string): Promise<boolean> {
    if (existsSync(join(this.gitDir, 'objects', oid.slice(0, 2), oid.slice(2)))) return true;
    const git = await loadIso();
    try {
      await git.readObject({ fs, gitdir: this.gitDir, oid, format: 'deflated', cache: this.cache });
      return true;
    } catch (e) {
      if ((e as { code?: string }).code === 'NotFoundError') return false;
      throw e;
    }
  }
}
