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

/**
 * A spooled body goes out in writes of about this size: one call to the thread pool per MB rather than one per
 * 64 KB chunk, and no more than this held per download.
 */
const WRITE_BYTES = 1024 ** 2;

export class BodySpool {
  /** Chunks not yet written: the whole body while it is in memory, the next write's worth once spooling. */
  #chunks: Buffer[] = [];
  #held = 0;
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
   * (the connection's flow control then holds the rest back); undefined when the chunk was only kept.
   */
  add(chunk: Buffer): Promise<void> | undefined {
    this.#size += chunk.length;
    this.#held += chunk.length;
    this.#chunks.push(chunk);
    if (this.#path === undefined) {
      if (this.options === undefined || this.#size <= this.aboveBytes) return undefined;
      this.#startFile();
    } else if (this.#held < WRITE_BYTES) {
      return undefined;
    }
    return this.#writeHeld();
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
      if (this.#held > 0) void this.#writeHeld().catch(() => undefined); // its failure is read below
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
    this.#held = 0;
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
    const first = this.#chunks[0]!.length >= SPOOL_HEAD_BYTES ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    this.#head = Buffer.from(first.subarray(0, SPOOL_HEAD_BYTES));
  }

  #writeHeld(): Promise<void> {
    const chunks = this.#chunks;
    this.#chunks = [];
    this.#held = 0;
    for (const chunk of chunks) this.#hash!.update(chunk);
    const file = this.#file!;
    const written = this.#writing.then(async () => {
      if (this.#failed !== undefined) return;
      try {
        await writeAll(await file, chunks);
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

/** One writev for the chunks, then plain writes for whatever a short write left. */
async function writeAll(handle: FileHandle, chunks: Buffer[]): Promise<void> {
  let { bytesWritten } = await handle.writev(chunks);
  for (const chunk of chunks) {
    if (bytesWritten >= chunk.length) {
      bytesWritten -= chunk.length;
      continue;
    }
    for (let offset = bytesWritten; offset < chunk.length; ) offset += (await handle.write(chunk, offset)).bytesWritten;
    bytesWritten = 0;
  }
}
