// Page processing in turns: one chunk of CPU work per turn of the event loop, so I/O never waits behind a pile of them.

/**
 * Workers processing pages yield here between chunks (parse, rewrite, write). Each waiting chunk runs in a turn of
 * the event loop of its own, in arrival order, so a response that arrives, or a request that undici writes once
 * its socket is free (it waits one setImmediate before reusing a connection), waits behind at most one chunk
 * rather than behind every worker's. With 5 connections at 50 ms, the time from a response to the next request on
 * its socket is what the README's performance section measures.
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
