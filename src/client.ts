/**
 * The Stash client: options in, one method per operation.
 *
 * @module
 */

import "./dispose.ts";
import {
  ClientClosedError,
  DecodeError,
  NotFoundError,
  ResponseError,
  UnauthorizedError,
} from "./errors.ts";
import { type Format, FORMATS, isFormat } from "./format.ts";
import { type KeyInfo, parseKeyList } from "./key_info.ts";
import { checkKey, checkPrefix, checkReadable, encodeKeyPath, normalizeKey } from "./keys.ts";
import {
  type CallOptions,
  type ClientOptions,
  resolveOptions,
  resolveTimeout,
  type SetOptions,
} from "./options.ts";
import { type CompleteResponse, type RequestSpec, Transport } from "./transport.ts";
import { type SubscribeOptions, Subscription } from "./sse/subscription.ts";
import { Watch, type WatchOptions } from "./sse/watch.ts";
import { decodeUtf8, utf8 } from "./utf8.ts";
import { ValueCipher } from "./value_cipher.ts";

/** A key no route shadows, asked for with HEAD only to check a token. */
const AUTH_PROBE_KEY = "stash-client-auth-probe";

/** One constant headers object per format, so the transport merges each only once. */
const FORMAT_HEADERS = Object.fromEntries(
  FORMATS.map((format) => [format, { "X-Stash-Format": format }]),
) as unknown as Record<Format, Record<string, string>>;

/** What {@link Client.set} reports. */
export interface SetResult {
  /** True when the key did not exist before (HTTP 201), false when it was replaced (200). */
  created: boolean;
}

/**
 * A client for one Stash server.
 *
 * @example Basic use
 * ```ts
 * import { Client } from "@stash/client";
 * import { startTestServer } from "@stash/client/testing";
 *
 * await using server = await startTestServer();
 * using client = new Client(server.url);
 * await client.set("app/greeting", "hello");
 * console.log(await client.get("app/greeting")); // "hello"
 * ```
 */
export class Client {
  #transport: Transport;
  #timeout: number;
  #lifetime = new AbortController();
  #cipher: ValueCipher | undefined;

  /**
   * Creates a client for the server at `baseUrl` (which may carry a base path, as in
   * `https://host/stash`). Throws `TypeError` or `RangeError` for invalid options.
   */
  constructor(baseUrl: string | URL, options: ClientOptions = {}) {
    // The passphrase goes to the cipher only, which keeps it as bytes it can wipe.
    const { zkKey, zkWasm, ...transport } = resolveOptions(baseUrl, options);
    this.#timeout = transport.timeout;
    this.#transport = new Transport({ ...transport, lifetime: this.#lifetime.signal });
    if (zkKey !== undefined) this.#cipher = new ValueCipher(zkKey, zkWasm);
  }

  /** True once {@link Client.close} has been called. */
  get closed(): boolean {
    return this.#lifetime.signal.aborted;
  }

  /** True when values are encrypted in the client (a `zkKey` was given). */
  get encrypted(): boolean {
    return this.#cipher !== undefined;
  }

  /**
   * Reads a value as UTF-8 text (decrypted when it is a zero-knowledge envelope and a `zkKey`
   * is set). Throws {@link NotFoundError} when the key does not exist and {@link DecodeError}
   * when the value is not valid UTF-8 (read it with {@link Client.getBytes}).
   */
  async get(key: string, options?: CallOptions): Promise<string> {
    const bytes = await this.getBytes(key, options);
    const text = decodeUtf8(bytes);
    if (text === undefined) {
      throw new DecodeError(`value of key "${key}" is not valid UTF-8; read it with getBytes()`, {
        method: "GET",
        key,
      });
    }
    return text;
  }

  /** Reads a value as bytes (decrypted when it is an envelope and a `zkKey` is set). */
  async getBytes(key: string, options?: CallOptions): Promise<Uint8Array> {
    const response = await this.#read("GET", key, [200], options);
    if (!this.#cipher) return response.body;
    return await this.#cipher.decrypt(response.body, { method: "GET", key });
  }

  /** Reads a value as text, or returns `fallback` when the key does not exist (only then). */
  async getOrDefault<T = string>(
    key: string,
    fallback: T,
    options?: CallOptions,
  ): Promise<string | T> {
    try {
      return await this.get(key, options);
    } catch (error) {
      if (error instanceof NotFoundError) return fallback;
      throw error;
    }
  }

  /** Reads a value and parses it as JSON; {@link DecodeError} when it is not JSON. */
  async getJSON<T = unknown>(key: string, options?: CallOptions): Promise<T> {
    const text = await this.get(key, options);
    try {
      return JSON.parse(text) as T;
    } catch {
      // The SyntaxError quotes the value, which may be secret: it is not attached.
      throw new DecodeError(`value of key "${key}" is not valid JSON`, { method: "GET", key });
    }
  }

  /**
   * Creates or replaces a value. Strings are sent as UTF-8; with a `zkKey` the value is
   * encrypted first. The format is checked here, because the server silently stores unknown
   * names as `text`.
   */
  async set(key: string, value: string | Uint8Array, options?: SetOptions): Promise<SetResult> {
    checkKey(key);
    const format = options?.format ?? "text";
    if (!isFormat(format)) {
      throw new TypeError(`format must be one of ${FORMATS.join(", ")}, received "${format}"`);
    }
    let body: Uint8Array | string;
    // fetch encodes a string as UTF-8 itself, faster than encoding it here first.
    if (typeof value === "string") body = this.#cipher ? utf8(value) : value;
    // fetch sends only views of plain ArrayBuffers; copy a view of a SharedArrayBuffer.
    else if (value instanceof Uint8Array) {
      body = value.buffer instanceof ArrayBuffer ? value : value.slice();
    } else throw new TypeError(`value must be a string or a Uint8Array, received ${typeof value}`);
    if (this.#cipher) body = await this.#cipher.encrypt(body as Uint8Array, { method: "PUT", key });
    const response = await this.#send({
      method: "PUT",
      key,
      path: `/kv/${encodeKeyPath(key)}`,
      body,
      headers: FORMAT_HEADERS[format],
      accept: [200, 201],
    }, options);
    return { created: response.status === 201 };
  }

  /** Stores `value` as JSON text with format `json`. */
  async setJSON(key: string, value: unknown, options?: CallOptions): Promise<SetResult> {
    const text = JSON.stringify(value);
    if (text === undefined) {
      throw new TypeError(`value for key "${key}" cannot be represented as JSON`);
    }
    return await this.set(key, text, { ...options, format: "json" });
  }

  /** Deletes a key; {@link NotFoundError} when it does not exist. */
  async delete(key: string, options?: CallOptions): Promise<void> {
    checkKey(key);
    await this.#send({
      method: "DELETE",
      key,
      path: `/kv/${encodeKeyPath(key)}`,
      accept: [204],
      acceptAfterLostAnswer: [404],
    }, options);
  }

  /** True when the key exists; asks with `HEAD`, so no value is downloaded. */
  async has(key: string, options?: CallOptions): Promise<boolean> {
    const response = await this.#read("HEAD", key, [200, 404], options);
    return response.status === 200;
  }

  /**
   * Metadata of every key that starts with `prefix` (a plain string match: `app` matches
   * `apple`), newest first; all keys when `prefix` is omitted or empty.
   */
  async list(prefix?: string, options?: CallOptions): Promise<KeyInfo[]> {
    if (prefix !== undefined && typeof prefix !== "string") {
      throw new TypeError(`prefix must be a string, received ${typeof prefix}`);
    }
    let response: CompleteResponse;
    try {
      response = await this.#send({
        method: "GET",
        path: "/kv/",
        query: prefix ? { prefix } : undefined,
        accept: [200],
      }, options);
    } catch (error) {
      // With auth on, Stash answers 401 instead of an empty list when the caller may read none
      // of the matching keys. A HEAD tells that apart from a refused token: only a refused
      // token gets 401 there too.
      if (!(error instanceof UnauthorizedError)) throw error;
      await this.#send(
        { method: "HEAD", path: `/kv/${AUTH_PROBE_KEY}`, accept: [200, 403, 404] },
        options,
      )
        .catch(() => {
          throw error;
        });
      return [];
    }
    return parseKeyList(new TextDecoder().decode(response.body), { method: "GET" });
  }

  /** Metadata of one key; {@link NotFoundError} when it does not exist. */
  async info(key: string, options?: CallOptions): Promise<KeyInfo> {
    checkKey(key);
    const stored = normalizeKey(key);
    const found = (await this.list(stored, options)).find((item) => item.key === stored);
    if (!found) throw new NotFoundError(key, { method: "GET" });
    return found;
  }

  /**
   * Change notifications for one key (normalised as the server does for writes).
   *
   * @example
   * ```ts ignore
   * for await (const change of client.subscribe("app/config")) {
   *   console.log(change.action, change.key, change.timestamp);
   * }
   * ```
   */
  subscribe(key: string, options?: SubscribeOptions): Subscription {
    checkKey(key);
    const stored = normalizeKey(key);
    return this.#subscribe(encodeKeyPath(stored), stored, options);
  }

  /** Change notifications for every key under `prefix`, whole segments only (`app` covers `app/x`, not `apple`). */
  subscribePrefix(prefix: string, options?: SubscribeOptions): Subscription {
    const stored = checkPrefix(prefix);
    return this.#subscribe(`${encodeKeyPath(stored)}/*`, `${stored}/*`, options);
  }

  /** Change notifications for every key. */
  subscribeAll(options?: SubscribeOptions): Subscription {
    return this.#subscribe("*", "*", options);
  }

  /**
   * A live view of every key under `prefix` (whole segments) that never misses a change:
   * readable synchronously with `get(key)` and `entries()`, and async iterable for its changes.
   *
   * @example
   * ```ts ignore
   * using view = client.watch("app");
   * await view.ready;
   * console.log(view.get("app/config"));
   * for await (const change of view) console.log(change.action, change.key, change.value);
   * ```
   */
  watch(prefix: string, options?: WatchOptions): Watch {
    const stored = checkPrefix(prefix);
    return new Watch(
      {
        subscribe: (subscribeOptions) => this.subscribePrefix(stored, subscribeOptions),
        list: (listPrefix, callOptions) => this.list(listPrefix, callOptions),
        get: (key, callOptions) => this.get(key, callOptions),
      },
      stored,
      options,
    );
  }

  /** Resolves when the server answers its health check with `pong`. */
  async ping(options?: CallOptions): Promise<void> {
    const response = await this.#send({ method: "GET", path: "/ping", accept: [200] }, options);
    const body = new TextDecoder().decode(response.body).trim();
    if (body !== "pong") {
      throw new ResponseError(200, "the health check did not answer pong", { method: "GET" });
    }
  }

  /**
   * Closes the client: calls in flight and later calls reject with
   * {@link ClientClosedError}, and encryption key material is wiped. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.#lifetime.abort(new ClientClosedError());
    this.#cipher?.close();
  }

  /** Closes the client at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Closes the client at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  #subscribe(path: string, topic: string, options?: SubscribeOptions): Subscription {
    if (this.closed) throw new ClientClosedError({ method: "GET", key: topic });
    const transport = this.#transport;
    return new Subscription({
      topic,
      lifetime: this.#lifetime.signal,
      errorFor: (status, body, context) => transport.errorFor(status, body, context),
      open: (signal) =>
        transport.open(
          { method: "GET", key: topic, path: `/kv/subscribe/${path}`, accept: [200] },
          signal,
        ),
    }, options);
  }

  #read(
    method: "GET" | "HEAD",
    key: string,
    accept: readonly number[],
    options?: CallOptions,
  ): Promise<CompleteResponse> {
    checkKey(key);
    checkReadable(key, method);
    return this.#send({ method, key, path: `/kv/${encodeKeyPath(key)}`, accept }, options);
  }

  #send(spec: Omit<RequestSpec, "timeout">, options?: CallOptions): Promise<CompleteResponse> {
    if (this.closed) {
      return Promise.reject(new ClientClosedError({ method: spec.method, key: spec.key }));
    }
    if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
    return this.#transport.send({
      ...spec,
      signal: options?.signal,
      timeout: resolveTimeout(options?.timeout, this.#timeout),
    });
  }
}
