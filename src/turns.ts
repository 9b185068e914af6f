// Page processing in turns: one chunk of CPU work per turn of the event loop, so I/O never waits behind a pile of them.

/**
 * Workers processing pages yield here between chunks (parse, rewrite, write). Each waiting chunk runs in a turn of
 * the event loop of its own, in arrival order, so a response that arrives waits behind at most one chunk rather
 * than behind every worker's. A request started on a kept-alive connection is written only in a later check
 * phase (undici first lets the socket show any bytes or FIN the server sent unasked), where this runner's
 * immediate, set in the previous turn, would come first: so after a request starts, the next chunk waits and the
 * request goes out first. (That was undici, the crawl's client until 2026-12-02; node:http writes a request in a
 * nextTick, before either turn, so the wait may now only delay processing: to be measured.) It waits two turns:
 * a request handed to undici while its connection is still finishing the previous response waits in the pool,
 * which gives it to the connection in the first check phase and writes it in the second (measured with undici's
 * diagnostics channels: with one turn, 40 % of requests at 5 connections waited behind a chunk, 0.84 ms against
 * 0.29 ms from request to headers on the wire; with two, 9 %).
 */
const TURNS_FOR_A_REQUEST = 2;

export class ProcessingTurns {
  private readonly waiting: (() => void)[] = [];
  private scheduled = false;
  /** A request started since the last chunk ran: the next chunk waits for its write. */
  private requestWaiting = false;
  /** Turns the next chunk has waited so far: never more than TURNS_FOR_A_REQUEST, however many requests start. */
  private turnsWaited = 0;

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
    if (this.requestWaiting && this.turnsWaited < TURNS_FOR_A_REQUEST) {
      this.turnsWaited++;
      setImmediate(this.runOne);
      return;
    }
    this.requestWaiting = false;
    this.turnsWaited = 0;
    // The chunk runs in this callback's microtasks; an immediate set now runs in the next turn, after the poll phase.
    this.waiting.shift()!();
    if (this.waiting.length > 0) setImmediate(this.runOne);
    else this.scheduled = false;
  };
}
