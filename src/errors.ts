/**
 * The error hierarchy. Every error the client throws on purpose is a {@link StashError};
 * each carries what a caller needs to act (status, method, key, cause) and never a token,
 * a passphrase or a value.
 *
 * @module
 */

/** What an error knows about the call that failed. */
export interface StashErrorOptions {
  /** HTTP method of the request, when a request was made. */
  method?: string;
  /** The key the call was about, when there was one. */
  key?: string;
  /** HTTP status of the response, when a response arrived. */
  status?: number;
  /** The underlying error. */
  cause?: unknown;
}

/** Base class of every error thrown by the Stash client. */
export class StashError extends Error {
  /** HTTP method of the failed request, if any. */
  readonly method?: string;
  /** The key the call was about, if any. */
  readonly key?: string;
  /** HTTP status of the response, if one arrived. */
  readonly status?: number;

  /** Creates an error; `options` says which call failed. */
  constructor(message: string, options: StashErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    if (options.method !== undefined) this.method = options.method;
    if (options.key !== undefined) this.key = options.key;
    if (options.status !== undefined) this.status = options.status;
  }
}

/** The key does not exist (HTTP 404). */
export class NotFoundError extends StashError {
  /** The key that was not found. */
  declare readonly key: string;

  /** Creates a not-found error for `key`. */
  constructor(key: string, options: Omit<StashErrorOptions, "key" | "status"> = {}) {
    super(`key not found: ${key}`, { ...options, key, status: 404 });
  }
}

/** The server refused the token, or a token is required (HTTP 401). */
export class UnauthorizedError extends StashError {
  /** Creates an unauthorized error. */
  constructor(message = "unauthorized: missing or unknown token", options: StashErrorOptions = {}) {
    super(message, { ...options, status: 401 });
  }
}

/** The token is known but lacks the permission for this key (HTTP 403). */
export class ForbiddenError extends StashError {
  /** Creates a forbidden error. */
  constructor(message = "forbidden: the token lacks permission", options: StashErrorOptions = {}) {
    super(message, { ...options, status: 403 });
  }
}

/** Why a zero-knowledge value could not be decrypted. */
export type DecryptionFailure =
  | "authentication"
  | "base64"
  | "too-short"
  | "closed";

/** A zero-knowledge value could not be decrypted (wrong passphrase, tampering, bad encoding). */
export class DecryptionError extends StashError {
  /** Which check failed. */
  readonly reason: DecryptionFailure;

  /** Creates a decryption error; the message never contains the value or the passphrase. */
  constructor(reason: DecryptionFailure, message: string, options: StashErrorOptions = {}) {
    super(message, options);
    this.reason = reason;
  }
}

/** The server could not be reached, or did not answer in time, after every retry. */
export class ConnectionError extends StashError {
  /** True when the last attempt ran out of time; false for refused or reset connections. */
  readonly timedOut: boolean;
  /** How many attempts were made. */
  readonly attempts: number;

  /** Creates a connection error. */
  constructor(
    message: string,
    details: { timedOut: boolean; attempts: number },
    options: StashErrorOptions = {},
  ) {
    super(message, options);
    this.timedOut = details.timedOut;
    this.attempts = details.attempts;
  }
}

/** The server answered with an unexpected status (anything but 401, 403 and 404). */
export class ResponseError extends StashError {
  /** HTTP status of the response. */
  declare readonly status: number;
  /** The server's own message, from its JSON `{"error": ...}` or plain-text body. */
  readonly serverMessage: string;

  /** Creates a response error for `status`. */
  constructor(status: number, serverMessage: string, options: StashErrorOptions = {}) {
    const what = serverMessage ? `: ${serverMessage}` : "";
    super(`unexpected HTTP ${status}${what}`, { ...options, status });
    this.serverMessage = serverMessage;
  }
}

/** A stored value could not be decoded as asked (not UTF-8 for `get`, not JSON for `getJSON`). */
export class DecodeError extends StashError {}

/** The key cannot be read back from a Stash server: another route answers for it. */
export class UnreadableKeyError extends StashError {}

/** The client was closed; no further call is possible. */
export class ClientClosedError extends StashError {
  /** Creates a closed-client error. */
  constructor(options: StashErrorOptions = {}) {
    super("the Stash client is closed", options);
  }
}

/** A Server-Sent Events stream broke the protocol (for example a line over the size cap). */
export class SseParseError extends StashError {}
