/**
 * Deadlines for many attempts on one timer. A timer per request costs several microseconds in
 * some runtimes (Deno's timers are Node-compatible objects), and `AbortSignal.timeout()` keeps
 * each timer alive for its whole duration; here one timer waits for the earliest deadline, and
 * requests that finish in time only leave and enter a map.
 *
 * @module
 */

/** Aborts registered controllers whose deadline passes. */
export class Deadlines {
  #entries = new Map<AbortController, { at: number; reason: () => unknown }>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;

  /** Aborts `controller` with `reason()` unless {@link Deadlines.remove} comes within `ms`. */
  add(controller: AbortController, ms: number, reason: () => unknown): void {
    const at = performance.now() + ms;
    this.#entries.set(controller, { at, reason });
    if (at < this.#timerAt) this.#arm(at);
    else if (this.#entries.size === 1) hold(this.#timer, true);
  }

  /** Forgets `controller`: its attempt ended in time. */
  remove(controller: AbortController): void {
    this.#entries.delete(controller);
    // The timer stays armed (it re-arms or stops when it fires), but with nothing to wait for it
    // must not keep the process alive.
    if (this.#entries.size === 0) hold(this.#timer, false);
  }

  #arm(at: number): void {
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, at - performance.now()));
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (const [controller, { at, reason }] of this.#entries) {
      if (at <= now) {
        this.#entries.delete(controller);
        controller.abort(reason());
      } else if (at < next) {
        next = at;
      }
    }
    if (next !== Infinity) this.#arm(next);
  }
}

/**
 * Makes a timer keep the process alive (`true`) or not (`false`): while attempts wait it must
 * (an injected `fetch` may do no I/O that would), afterwards it must not, since it can outlive
 * the last request by a whole timeout. Deno, Node and Bun timers have `ref()`/`unref()`;
 * browsers and Workers have no process to keep alive.
 */
function hold(timer: unknown, on: boolean): void {
  const handle = timer as { ref?: () => void; unref?: () => void } | undefined;
  if (on) handle?.ref?.();
  else handle?.unref?.();
}
