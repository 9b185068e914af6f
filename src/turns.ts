// Page processing in turns: one chunk of CPU work per turn of the event loop, so I/O never waits behind a pile of them.

/**
 * Workers processing pages yield here between chunks (parse, rewrite, write). Each waiting chunk runs in a turn of
 * the event loop of its own, in arrival order, so a response that arrives waits behind at most one chunk rather
 * than behind every worker's. A request started meanwhile needs no turn of its own: node:http writes it in a
 * nextTick, before the next chunk's immediate. (With undici, the client until 2026-12-02, which wrote on a kept-alive
 * socket only in a later check phase, a chunk waited two turns after each request started; with node:http that wait
 * only held processing back: at 5 connections and 50 ms, 22.70-22.98 s with it and 22.66-22.95 s without (six
 * alternated pairs, four lower), and under bench/gaps' instrumentation 22.73-23.05 s of server span against
 * 22.59-22.72 s (four pairs).)
 */
export class ProcessingTurns {
  private readonly waiting: (() => void)[] = [];
  private scheduled = false;

  /** Resolves in a later turn of the event loop, after the I/O that is ready now. */
  next(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.runOne);
      }
    });
  }

  private readonly runOne = (): void => {
    // The chunk runs in this callback's microtasks; an immediate set now runs in the next turn, after the poll phase.
    this.waiting.shift()!();
    if (this.waiting.length > 0) setImmediate(this.runOne);
    else this.scheduled = false;
  };
}
