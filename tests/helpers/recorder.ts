/** Waiting helpers for stream tests: deadlines that turn a hang into a failure. */

/** Rejects when `promise` has not settled within `ms`: a hang becomes a failure, not a wait. */
export async function within<T>(promise: Promise<T>, what: string, ms = 20_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Something that can be waited on until a condition over what it recorded holds. */
export class Recorder<T> {
  readonly items: T[] = [];
  #waiters = new Set<() => void>();

  add(item: T): void {
    this.items.push(item);
    this.notify();
  }

  notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** Resolves once `predicate` holds; fails with `what` after `ms` or once `failed()` holds. */
  until(
    predicate: (items: T[]) => boolean,
    what: string,
    failed = () => false,
    ms = 20_000,
  ): Promise<void> {
    const wait = new Promise<void>((resolve, reject) => {
      const check = () => {
        if (predicate(this.items)) {
          this.#waiters.delete(check);
          resolve();
        } else if (failed()) {
          this.#waiters.delete(check);
          reject(new Error(`gave up waiting for ${what}: ${JSON.stringify(this.items)}`));
        }
      };
      this.#waiters.add(check);
      check();
    });
    return within(wait, what, ms);
  }
}
