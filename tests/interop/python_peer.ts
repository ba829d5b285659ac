/**
 * Drives `python_peer.py`: the official Python Stash client (`stash-client`, module `stash`) in
 * a child process, one JSON command per line. Every call is time-bounded; a call that overruns
 * kills the process, and {@link PythonPeer.close} always reaps it.
 *
 * @module
 */

const PEER_SCRIPT = new URL("./python_peer.py", import.meta.url);
const REPO_VENV_PYTHON = new URL("../../.venv/bin/python", import.meta.url);

/** Milliseconds one command may take (a ZK command runs a 64 MiB Argon2id in Python). */
export const CALL_TIMEOUT_MS = 60_000;
/** Milliseconds the peer may take to start and import `stash`. */
const START_TIMEOUT_MS = 30_000;
/** Milliseconds the peer may take to exit once asked to. */
const EXIT_TIMEOUT_MS = 5_000;
/** Characters of the peer's stderr kept for error messages. */
const STDERR_LIMIT = 16_384;

/** Where the Python interpreter was found, or why it was not. */
export type PythonLookup =
  | { found: true; python: string; source: string }
  | { found: false; reason: string };

/**
 * Finds the interpreter to run the peer with: `STASH_INTEROP_PYTHON` (set by `.ci/interop.sh`),
 * else the repository's `.venv/bin/python`, else `python3` on the PATH. Not found means no
 * Python at all: only then are the interop tests skipped (also when `.ci/interop.sh` found no
 * usable Python and says why in `STASH_INTEROP_SKIP`).
 */
export async function findPython(): Promise<PythonLookup> {
  const skip = Deno.env.get("STASH_INTEROP_SKIP");
  if (skip) return { found: false, reason: skip };
  const candidates: { python: string; source: string }[] = [];
  const fromEnv = Deno.env.get("STASH_INTEROP_PYTHON");
  if (fromEnv) candidates.push({ python: fromEnv, source: "STASH_INTEROP_PYTHON" });
  else {
    try {
      if (Deno.statSync(REPO_VENV_PYTHON).isFile) {
        candidates.push({ python: filePath(REPO_VENV_PYTHON), source: ".venv" });
      }
    } catch {
      // no virtualenv in the checkout
    }
    candidates.push({ python: "python3", source: "PATH" });
  }
  for (const candidate of candidates) {
    try {
      const { success } = await new Deno.Command(candidate.python, {
        args: ["--version"],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).output();
      if (success) return { found: true, ...candidate };
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  if (fromEnv) {
    // Asked for explicitly: a broken interpreter is a failure, not a reason to skip.
    return { found: true, python: fromEnv, source: "STASH_INTEROP_PYTHON" };
  }
  return { found: false, reason: "no Python interpreter (python3) was found" };
}

/** Options of one Python `stash.Client`, as the peer builds it. */
export interface PeerClient {
  /** The server's base URL. */
  url: string;
  /** `zk_key=`: the ZK passphrase. */
  zk_key?: string;
  /** `token=`: the API token. */
  token?: string;
  /** `timeout=` in seconds. */
  timeout?: number;
  /** `retries=`. */
  retries?: number;
}

/** An exception the Python client raised, as the peer reported it. */
export class PythonError extends Error {
  /** The exception's class name, for example `NotFoundError`. */
  readonly type: string;
  /** The module that defines it, for example `stash.errors`. */
  readonly module: string;
  /** `ResponseError.status_code`, when the exception has one. */
  readonly status: number | undefined;

  constructor(
    op: string,
    error: { type: string; module: string; message: string; status?: number },
  ) {
    super(`python ${op}: ${error.module}.${error.type}: ${error.message}`);
    this.name = "PythonError";
    this.type = error.type;
    this.module = error.module;
    this.status = error.status;
  }
}

interface Answer {
  id?: number;
  ok?: boolean;
  result?: unknown;
  error?: { type: string; module: string; message: string; status?: number };
  ready?: boolean;
  version?: string;
  python?: string;
}

interface Pending {
  op: string;
  resolve: (answer: Answer) => void;
  reject: (error: Error) => void;
}

/** A running `python_peer.py`. */
export class PythonPeer implements AsyncDisposable {
  /** The installed `stash-client` version. */
  readonly version: string;
  /** The Python version. */
  readonly pythonVersion: string;

  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #pending = new Map<number, Pending>();
  readonly #done: Promise<unknown>;
  readonly #stderrOf: () => string;
  #nextId = 1;
  #closed = false;
  #exited = false;

  private constructor(
    child: Deno.ChildProcess,
    lines: AsyncIterator<string>,
    hello: Answer,
    stderrDone: Promise<void>,
    getStderr: () => string,
  ) {
    this.#child = child;
    this.#stdin = child.stdin.getWriter();
    this.version = hello.version ?? "?";
    this.pythonVersion = hello.python ?? "?";
    this.#stderrOf = getStderr;
    const reading = this.#read(lines);
    this.#done = Promise.allSettled([reading, stderrDone, child.status]);
  }

  /** Starts the peer with `python` and waits until it has imported `stash`. */
  static async start(python: string): Promise<PythonPeer> {
    const child = new Deno.Command(python, {
      args: ["-u", filePath(PEER_SCRIPT)],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { PYTHONIOENCODING: "utf-8", PYTHONDONTWRITEBYTECODE: "1" },
    }).spawn();
    let stderr = "";
    const stderrDone = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({
        write(chunk) {
          stderr = (stderr + chunk).slice(-STDERR_LIMIT);
        },
      }),
    ).catch(() => {});
    const lines = splitLines(child.stdout.pipeThrough(new TextDecoderStream()))[
      Symbol.asyncIterator
    ]();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const first = await Promise.race([
        lines.next(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`the Python peer did not start in ${START_TIMEOUT_MS} ms`)),
            START_TIMEOUT_MS,
          );
        }),
      ]);
      const hello: Answer = first.done ? {} : JSON.parse(first.value);
      if (hello.ready !== true) {
        throw new Error(
          `the Python peer could not import the stash client (${
            hello.ready === false ? hello.error : "no greeting"
          }). Install it with: bash .ci/interop.sh (python: ${python})\n${stderr}`,
        );
      }
      return new PythonPeer(child, lines, hello, stderrDone, () => stderr);
    } catch (error) {
      killQuietly(child);
      await Promise.allSettled([
        child.stdin.close(),
        child.status,
        stderrDone,
        lines.return?.(undefined),
      ]);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The tail of the peer's stderr (Python tracebacks). */
  get stderr(): string {
    return this.#stderrOf();
  }

  /**
   * Runs one command; resolves with its result, rejects with {@link PythonError} when the
   * Python client raised. Kills the peer when the command overruns `timeoutMs`.
   */
  async call(
    op: string,
    args: Record<string, unknown> = {},
    timeoutMs = CALL_TIMEOUT_MS,
  ): Promise<unknown> {
    if (this.#closed) throw new Error(`python ${op}: the peer is closed`);
    if (this.#exited) throw new Error(`python ${op}: the Python peer exited\n${this.stderr}`);
    const id = this.#nextId++;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const answered = new Promise<Answer>((resolve, reject) => {
      this.#pending.set(id, { op, resolve, reject });
      timer = setTimeout(() => {
        this.#pending.delete(id);
        killQuietly(this.#child);
        reject(
          new Error(`python ${op}: no answer in ${timeoutMs} ms; peer killed\n${this.stderr}`),
        );
      }, timeoutMs);
    });
    try {
      await this.#stdin.write(new TextEncoder().encode(JSON.stringify({ id, op, ...args }) + "\n"));
      const answer = await answered;
      if (answer.ok) return answer.result;
      throw new PythonError(op, answer.error ?? { type: "?", module: "?", message: "no error" });
    } finally {
      clearTimeout(timer);
      this.#pending.delete(id);
    }
  }

  /** The calls of one Python `stash.Client`. */
  client(spec: PeerClient): PythonClient {
    return new PythonClient(this, spec);
  }

  /** Asks the peer to exit, kills it if it does not, and waits for it and its pipes. */
  async close(): Promise<void> {
    if (!this.#closed) {
      try {
        await this.call("exit", {}, EXIT_TIMEOUT_MS);
      } catch {
        // killed by the call's timeout, or already gone
      }
      this.#closed = true;
      await this.#stdin.close().catch(() => {});
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([
      this.#child.status.then(() => true),
      new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), EXIT_TIMEOUT_MS)),
    ]);
    clearTimeout(timer);
    if (!exited) killQuietly(this.#child);
    await this.#done;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #read(lines: AsyncIterator<string>): Promise<void> {
    try {
      while (true) {
        const next = await lines.next();
        if (next.done) break;
        let answer: Answer;
        try {
          answer = JSON.parse(next.value);
        } catch {
          this.#failAll(new Error(`the Python peer wrote a line that is not JSON: ${next.value}`));
          continue;
        }
        const pending = answer.id === undefined ? undefined : this.#pending.get(answer.id);
        pending?.resolve(answer);
      }
    } finally {
      this.#exited = true;
      this.#failAll(new Error(`the Python peer exited\n${this.stderr}`));
    }
  }

  #failAll(error: Error): void {
    for (const [id, pending] of this.#pending) {
      this.#pending.delete(id);
      pending.reject(new Error(`python ${pending.op}: ${error.message}`));
    }
  }
}

/** Key metadata as the Python client's `KeyInfo`, datetimes as `isoformat()`. */
export interface PythonKeyInfo {
  key: string;
  size: number;
  format: string;
  secret: boolean;
  zk_encrypted: boolean;
  created_at: string;
  updated_at: string;
}

/** One Python `stash.Client`, called through the peer. */
export class PythonClient {
  readonly #peer: PythonPeer;
  readonly #spec: PeerClient;

  constructor(peer: PythonPeer, spec: PeerClient) {
    this.#peer = peer;
    this.#spec = spec;
  }

  #call(op: string, args: Record<string, unknown> = {}): Promise<unknown> {
    return this.#peer.call(op, { client: this.#spec, ...args });
  }

  /** `client.ping()`. */
  async ping(): Promise<void> {
    await this.#call("ping");
  }

  /** `client.set(key, value)` or `client.set(key, value, fmt=fmt)`. */
  async set(key: string, value: string, fmt?: string): Promise<void> {
    await this.#call("set", fmt === undefined ? { key, value } : { key, value, fmt });
  }

  /** `client.get(key)`. */
  async get(key: string): Promise<string> {
    return await this.#call("get", { key }) as string;
  }

  /** `client.get_bytes(key)`. */
  async getBytes(key: string): Promise<Uint8Array> {
    const encoded = await this.#call("get_bytes", { key }) as string;
    return Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
  }

  /** `client.get_or_default(key, fallback)`. */
  async getOrDefault(key: string, fallback: string): Promise<string> {
    return await this.#call("get_or_default", { key, default: fallback }) as string;
  }

  /** `client.delete(key)`. */
  async delete(key: string): Promise<void> {
    await this.#call("delete", { key });
  }

  /** `client.list(prefix)`. */
  async list(prefix = ""): Promise<PythonKeyInfo[]> {
    return await this.#call("list", { prefix }) as PythonKeyInfo[];
  }

  /** `client.info(key)`. */
  async info(key: string): Promise<PythonKeyInfo> {
    return await this.#call("info", { key }) as PythonKeyInfo;
  }

  /**
   * Starts `subscribe(target)`, `subscribe_prefix(target)` or `subscribe_all()` in a thread of
   * the peer; returns the subscription's number.
   */
  async subscribe(kind: "key" | "prefix" | "all", target = ""): Promise<number> {
    return await this.#call("subscribe", { kind, target }) as number;
  }

  /** The events a subscription received, once there are `count` or `timeoutS` seconds passed. */
  async events(
    subscription: number,
    count: number,
    timeoutS = 10,
  ): Promise<{ key: string; action: string; timestamp: string }[]> {
    return await this.#peer.call(
      "events",
      { subscription, count, timeout: timeoutS },
      timeoutS * 1000 + CALL_TIMEOUT_MS,
    ) as { key: string; action: string; timestamp: string }[];
  }

  /** `subscription.close()` (its thread ends with the peer). */
  async unsubscribe(subscription: number): Promise<void> {
    await this.#peer.call("unsubscribe", { subscription });
  }
}

async function* splitLines(stream: ReadableStream<string>): AsyncGenerator<string> {
  let buffered = "";
  for await (const chunk of stream) {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      yield buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
    }
  }
  if (buffered !== "") yield buffered;
}

function killQuietly(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch {
    // already exited
  }
}

function filePath(url: URL): string {
  return decodeURIComponent(url.pathname);
}
