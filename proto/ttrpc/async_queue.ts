// A single-consumer async queue: stream messages arrive from frames (push) and are read with
// `for await`. Used for the client's view of response streams and the server's view of request
// streams.

interface Waiter<T> {
  resolve(result: IteratorResult<T>): void;
  reject(err: Error): void;
}

export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private waiter: Waiter<T> | undefined;
  private ended = false;
  private failure: Error | undefined;

  /** @param onAbandon called when the consumer stops iterating before the end. */
  constructor(private readonly onAbandon: () => void = () => undefined) {}

  push(item: T): void {
    if (this.ended) {
      return;
    }
    if (this.waiter !== undefined) {
      this.takeWaiter().resolve({ value: item, done: false });
    } else {
      this.items.push(item);
    }
  }

  end(): void {
    if (this.ended) {
      return;
    }
    this.ended = true;
    if (this.waiter !== undefined) {
      this.takeWaiter().resolve({ value: undefined, done: true });
    }
  }

  /** Ends the queue with an error, delivered after the items already queued. */
  fail(err: Error): void {
    if (this.ended) {
      return;
    }
    this.ended = true;
    this.failure = err;
    if (this.waiter !== undefined) {
      this.takeWaiter().reject(err);
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length > 0) {
      return Promise.resolve({ value: this.items.shift() as T, done: false });
    }
    if (this.failure !== undefined) {
      return Promise.reject(this.failure);
    }
    if (this.ended) {
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<T>> {
    if (!this.ended) {
      this.ended = true;
      this.items.length = 0;
      this.onAbandon();
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  private takeWaiter(): Waiter<T> {
    const waiter = this.waiter as Waiter<T>;
    this.waiter = undefined;
    return waiter;
  }
}
