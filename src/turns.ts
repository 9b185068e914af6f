// Page processing in turns: one chunk of CPU work per turn of the event loop, so I/O never waits behind a pile of them.

/**
 * Workers processing pages yield here between chunks (parse, rewrite, write). Each waiting chunk runs in a turn of
 * the event loop of its own, in arrival order, so a response that arrives waits behind at most one chunk rather
 * than behind every worker's. A request started on a kept-alive connection is written only in the next check
 * phase (undici first lets the socket show any bytes or FIN the server sent unasked), where this runner's
 * immediate, set in the previous turn, would come first: so after a request starts, the next chunk waits one more
 * turn and the request goes out first.
 */
export class ProcessingTurns {
  private readonly waiting: (() => void)[] = [];
  private scheduled = false;
  /** A request started since the last chunk ran: its write waits in this turn's check phase. */
  private requestWaiting = false;

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

  /** Tells the turns a request was just started, so its write goes before the next chunk. */
  requestStarted(): void {
    this.requestWaiting = true;
  }

  private readonly runOne = (): void => {
    if (this.requestWaiting) {
      // Once per chunk, so chunks are never starved by a steady stream of requests.
      this.requestWaiting = false;
      setImmediate(this.runOne);
      return;
    }
    // The chunk runs in this callback's microtasks; an immediate set now runs in the next turn, after the poll phase.
    this.waiting.shift()!();
    if (this.waiting.length > 0) setImmediate(this.runOne);
    else this.scheduled = false;
  };
}
