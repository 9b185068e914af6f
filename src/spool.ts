// A response body as it is read: in memory up to a threshold, then streamed to a file, so a large download (a video,
// an archive) costs its size on disk instead of in memory. The body's hash is taken on the way.
import { createHash, type Hash } from 'node:crypto';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { writeFailure } from './store.js';
import type { SpooledBody } from './types.js';

/** How much of a spooled body stays in memory: enough to sniff its type (mediatype.ts reads at most 4 KB). */
export const SPOOL_HEAD_BYTES = 4096;

/** Where a fetch may spool its body, and past what size (see FetchRequest.spool). */
export interface SpoolOptions {
  /** A new file name for a body, in a folder on the mirror's disk (so the file can be renamed into place). */
  newPath(): string;
  /** The size past which a body with this Content-Type (bare, lower case; '' when none) goes to a file. */
  aboveBytes(contentType: string): number;
}

export class BodySpool {
  #chunks: Buffer[] = [];
  #size = 0;
  #head: Buffer | undefined;
  #file: Promise<FileHandle> | undefined;
  #path: string | undefined;
  #hash: Hash | undefined;
  /** Writes run one after another, in the order the chunks came. */
  #writing: Promise<unknown> = Promise.resolve();
  #failed: unknown;

  constructor(private readonly options: SpoolOptions | undefined, private readonly aboveBytes: number) {}

  get size(): number {
    return this.#size;
  }

  /**
   * Takes the next chunk. Returns a promise while a file write is under way, and the reader should then wait for it
   * (the connection's flow control then holds the rest back); undefined while the body is still in memory.
   */
  add(chunk: Buffer): Promise<void> | undefined {
    this.#size += chunk.length;
    if (this.#path === undefined) {
      this.#chunks.push(chunk);
      if (this.options === undefined || this.#size <= this.aboveBytes) return undefined;
      this.#startFile();
      const held = this.#chunks;
      this.#chunks = [];
      return this.#write(held);
    }
    return this.#write([chunk]);
  }

  /** The body went to a file. */
  get spooling(): boolean {
    return this.#path !== undefined;
  }

  /** The whole body, while it is not spooling. */
  inMemory(): Buffer {
    return Buffer.concat(this.#chunks, this.#size);
  }

  /** The whole body, or its head and the file that holds all of it. */
  async finish(): Promise<{ body: Buffer; spooled?: SpooledBody }> {
    if (this.#path === undefined) return { body: this.inMemory() };
    try {
      await this.#writing;
      if (this.#failed !== undefined) throw this.#failed;
      await (await this.#file!).close();
    } catch (error) {
      await this.discard();
      throw error;
    }
    return { body: this.#head!, spooled: { path: this.#path, size: this.#size, sha256: this.#hash!.digest('hex') } };
  }

  /** The body is not wanted (an error, a stop): its file goes. */
  async discard(): Promise<void> {
    this.#chunks = [];
    if (this.#path === undefined) return;
    await this.#writing;
    await (await this.#file!.catch(() => undefined))?.close().catch(() => undefined);
    await rm(this.#path, { force: true }).catch(() => undefined);
  }

  #startFile(): void {
    this.#path = this.options!.newPath();
    // 'wx': a fresh name, never a file someone else left there.
    this.#file = open(this.#path, 'wx');
    this.#file.catch(() => undefined); // read by the first write
    this.#hash = createHash('sha256');
    const first = Buffer.concat(this.#chunks);
    this.#head = Buffer.from(first.subarray(0, SPOOL_HEAD_BYTES));
  }

  #write(chunks: Buffer[]): Promise<void> {
    for (const chunk of chunks) this.#hash!.update(chunk);
    const file = this.#file!;
    const written = this.#writing.then(async () => {
      if (this.#failed !== undefined) return;
      try {
        const handle = await file;
        for (const chunk of chunks) {
          for (let offset = 0; offset < chunk.length; ) offset += (await handle.write(chunk, offset)).bytesWritten;
        }
      } catch (error) {
        // The mirror's disk (full, read-only): the crawl's one-line error, and the run stops as for any file.
        this.#failed = writeFailure(this.#path!, error);
      }
    });
    this.#writing = written;
    return written.then(() => {
      if (this.#failed !== undefined) throw this.#failed;
    });
  }
}
