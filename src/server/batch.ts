// Admission reviews whose bodies complete in the same turn of the event loop are judged
// together, stage by stage (app.ts): each stage's code and data then stay in the CPU's
// caches across the batch instead of being pushed out by the TLS, HTTP and kernel work
// between one review and the next. This gathers them.

export interface BatchLimits {
  /** An item larger than this is handed over at once, with whatever is queued before it. */
  flushFrom: number;
  /** Bytes queued at most: the item that takes the batch past this hands it over at once. */
  maxBytes: number;
}

/**
 * Gathers items that arrive in one turn of the event loop and hands them to `handle` together, in arrival order, on
 * the next setImmediate. A batch's items wait for each other, so a large item, or one that fills the batch, hands
 * the batch over at once rather than make the small ones queued with it wait for more.
 */
export class Batcher<T> {
  private queued: T[] = [];
  private queuedBytes = 0;
  private scheduled = false;

  constructor(
    private readonly handle: (batch: T[]) => void,
    private readonly limits: BatchLimits,
  ) {}

  add(item: T, bytes: number): void {
    this.queued.push(item);
    this.queuedBytes += bytes;
    if (bytes > this.limits.flushFrom || this.queuedBytes > this.limits.maxBytes) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  /** Hands over what is queued, if anything. */
  flush(): void {
    if (this.queued.length === 0) return;
    const batch = this.queued;
    this.queued = [];
    this.queuedBytes = 0;
    this.handle(batch);
  }
}
