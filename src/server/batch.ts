// Admission reviews whose bodies complete in the same turn of the event loop are judged
// together, stage by stage (app.ts): each stage's code and data then stay in the CPU's
// caches across the batch instead of being pushed out by the TLS, HTTP and kernel work
// between one review and the next. This gathers them.

export interface BatchLimits {
  /** An item larger than this is handed over alone, at once, after what is queued before it. */
  aloneFrom: number;
  /** Bytes in a batch at most: the item that takes it there hands the batch over at once. */
  maxBytes: number;
}

/**
 * Gathers items that arrive in one turn of the event loop and hands them to `handle` together, in arrival order, on
 * the next setImmediate. The items of a batch wait for each other (the first is answered when the last is judged),
 * so batches are kept small in bytes, and a large item goes alone: small items never wait for a large one.
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
    if (bytes > this.limits.aloneFrom) {
      this.flush();
      this.handle([item]);
      return;
    }
    this.queued.push(item);
    this.queuedBytes += bytes;
    if (this.queuedBytes >= this.limits.maxBytes) this.flush();
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
