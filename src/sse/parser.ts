/**
 * A Server-Sent Events parser: bytes in, events out, exact to the WHATWG
 * "event stream interpretation" rules and independent of the network.
 *
 * - Input is UTF-8 bytes in chunks of any size. Characters split across chunks are decoded
 *   correctly, a UTF-8 byte order mark at the very start of a stream is skipped (once),
 *   malformed bytes become U+FFFD.
 * - Lines end with CR, LF or CRLF, also when the CR ends one chunk and the LF starts the next.
 *   A line that ends with CR is handled at once, without waiting for the next chunk.
 * - `data` lines are joined with "\n"; `event` sets the type (default `"message"`); `id` sets the
 *   last event ID unless it contains U+0000; `retry` is reported when it is ASCII digits only;
 *   lines starting with `:` are comments; other fields are ignored. One space after the colon
 *   is removed.
 * - An empty line dispatches the event when it has at least one `data` line. An event that is
 *   not terminated by an empty line when the stream ends is discarded.
 * - Memory is bounded by {@link SseParserOptions.maxBufferSize}.
 *
 * @module
 */

import { SseParseError } from "../errors.ts";

/** One dispatched event. */
export interface SseEvent {
  /** The `event` field of the event, or `"message"` when it had none (or an empty one). */
  type: string;
  /** The `data` lines of the event, joined with "\n". */
  data: string;
  /** The last `id` the stream set, at or before this event; `""` when none. */
  lastEventId: string;
}

/** The callbacks and limits of a parser. */
export interface SseParserOptions {
  /** Called with each dispatched event, in stream order. */
  onEvent(event: SseEvent): void;
  /**
   * Called with the reconnection time, in milliseconds, of each `retry` field whose value
   * is ASCII digits only (others are ignored, as the standard says).
   *
   * @default {undefined} `retry` fields are ignored
   */
  onRetry?(ms: number): void;
  /**
   * Called with the text of each comment line (a line starting with `:`), without the colon
   * and without one space following it.
   *
   * @default {undefined} comments are ignored
   */
  onComment?(text: string): void;
  /**
   * Most UTF-16 code units (characters, for ASCII text) that one line of the stream, and the
   * data of one event, may hold. Beyond it the parser throws an {@link SseParseError}, so a
   * broken or hostile stream cannot exhaust memory: the parser holds at most one unfinished
   * line and one event's data, each up to this size. Must be a positive integer.
   *
   * @default {1048576} 1 MiB
   */
  maxBufferSize?: number;
}

/** A push parser for one event stream after another; create it with {@link createSseParser}. */
export interface SseParser {
  /**
   * Parses the next chunk of the stream, calling the callbacks for what it completes.
   *
   * Throws an {@link SseParseError} when a line or the data of an event exceeds
   * `maxBufferSize`. After any exception (also one thrown by a callback, which propagates
   * unchanged) the rest of the chunk is dropped and `feed()` throws an {@link SseParseError}
   * until {@link SseParser.end} or {@link SseParser.reset} is called.
   */
  feed(chunk: Uint8Array): void;
  /**
   * Ends the stream: an unterminated line and an unfinished event are discarded (nothing is
   * dispatched), and the parser is ready for a new stream, such as a reconnection: the byte
   * order mark is skipped again and the new stream starts with empty buffers, as the standard
   * says. {@link SseParser.lastEventId} is kept.
   */
  end(): void;
  /** Returns the parser to its initial state: like {@link SseParser.end}, and forgets the last event ID. */
  reset(): void;
  /**
   * The last event ID as of the last empty line, dispatched or not (an `id` followed by an
   * empty line without `data` updates it too): what a client sends as `Last-Event-ID` when it
   * reconnects. Kept by {@link SseParser.end}, cleared by {@link SseParser.reset}.
   */
  readonly lastEventId: string;
}

/** Default of {@link SseParserOptions.maxBufferSize}: 1 MiB. */
const DEFAULT_MAX_BUFFER_SIZE = 1024 * 1024;

const LF = 0x0a;
const SPACE = 0x20;
const COLON = 0x3a;
const BOM = 0xfeff;
/** Options of every decode() call, allocated once. */
const STREAM: TextDecodeOptions = { stream: true };

/**
 * Creates a parser that turns the bytes of an event stream into events.
 *
 * @example Parse a Stash change event arriving in two chunks
 * ```ts
 * import assert from "node:assert/strict";
 * import { createSseParser, type SseEvent } from "./parser.ts";
 *
 * const events: SseEvent[] = [];
 * const parser = createSseParser({ onEvent: (event) => events.push(event) });
 * const bytes = new TextEncoder().encode(
 *   'event: change\ndata: {"key":"app/config","action":"update"}\n\n',
 * );
 * parser.feed(bytes.subarray(0, 20));
 * parser.feed(bytes.subarray(20));
 * parser.end();
 * assert.deepEqual(events, [
 *   { type: "change", data: '{"key":"app/config","action":"update"}', lastEventId: "" },
 * ]);
 * ```
 *
 * @throws {TypeError} when `onEvent` is not a function.
 * @throws {RangeError} when `maxBufferSize` is not a positive integer.
 */
export function createSseParser(options: SseParserOptions): SseParser {
  const onEvent = options?.onEvent;
  if (typeof onEvent !== "function") {
    throw new TypeError(`onEvent must be a function, received ${typeof onEvent}`);
  }
  const onRetry = options.onRetry;
  const onComment = options.onComment;
  const maxBufferSize = options.maxBufferSize ?? DEFAULT_MAX_BUFFER_SIZE;
  if (!Number.isSafeInteger(maxBufferSize) || maxBufferSize < 1) {
    throw new RangeError(
      `maxBufferSize must be a positive integer, received ${String(maxBufferSize)}`,
    );
  }

  // Per-stream state (cleared by end()).
  // The BOM is handled here: Deno 2's streaming TextDecoder, left to do it, also drops a BOM
  // that starts the output of a later decode() call when the stream itself had none.
  let decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  /** No character of the stream has been decoded yet: a BOM now is skipped. */
  let atStart = true;
  /** Fragments of the unterminated line, joined once its end arrives (no O(n²) re-scans). */
  const pending: string[] = [];
  let pendingLength = 0;
  /** The previous chunk ended with CR: an LF starting the next one ends no further line. */
  let skipLeadingLF = false;
  let data = "";
  let hasData = false;
  let eventType = "";
  let idBuffer = "";
  /** Set while feed() runs; left set when it throws. */
  let broken = false;
  // Kept across streams (cleared by reset()).
  let lastEventId = "";
  /** The last non-empty event type, reused so that a repeated type allocates nothing. */
  let typeCache = "";

  function fail(): never {
    const message =
      `SSE stream exceeds maxBufferSize (${maxBufferSize} UTF-16 code units in one line or ` +
      `in the data of one event)`;
    // Free what was held; the contents must not leak into the error.
    pending.length = 0;
    pendingLength = 0;
    data = "";
    throw new SseParseError(message);
  }

  function dispatch(): void {
    lastEventId = idBuffer;
    if (hasData) {
      const event: SseEvent = { type: eventType || "message", data, lastEventId: idBuffer };
      data = "";
      hasData = false;
      eventType = "";
      onEvent(event);
    } else {
      eventType = "";
    }
  }

  /** Handles the non-empty line `s[start..end)`. */
  function processLine(s: string, start: number, end: number): void {
    if (end - start > maxBufferSize) fail();
    const c = s.charCodeAt(start);
    // Fast paths for the fields that carry events; other lines go the generic way.
    if (
      c === 0x64 && s.charCodeAt(start + 1) === 0x61 && s.charCodeAt(start + 2) === 0x74 &&
      s.charCodeAt(start + 3) === 0x61 && (start + 4 === end || s.charCodeAt(start + 4) === COLON)
    ) { // "data"
      let from = start + 5;
      if (from < end && s.charCodeAt(from) === SPACE) from++;
      appendData(from < end ? s.slice(from, end) : "");
      return;
    }
    if (
      c === 0x65 && s.charCodeAt(start + 1) === 0x76 && s.charCodeAt(start + 2) === 0x65 &&
      s.charCodeAt(start + 3) === 0x6e && s.charCodeAt(start + 4) === 0x74 &&
      (start + 5 === end || s.charCodeAt(start + 5) === COLON)
    ) { // "event"
      let from = start + 6;
      if (from < end && s.charCodeAt(from) === SPACE) from++;
      setType(s, from < end ? from : end, end);
      return;
    }
    if (c === COLON) {
      if (onComment !== undefined) {
        let from = start + 1;
        if (from < end && s.charCodeAt(from) === SPACE) from++;
        onComment(s.slice(from, end));
      }
      return;
    }
    // Generic field: search the colon inside the line only.
    const line = s.slice(start, end);
    const colon = line.indexOf(":");
    let name: string;
    let value: string;
    if (colon === -1) {
      name = line;
      value = "";
    } else {
      name = line.slice(0, colon);
      value = line.slice(line.charCodeAt(colon + 1) === SPACE ? colon + 2 : colon + 1);
    }
    switch (name) {
      case "id":
        if (value.indexOf("\0") === -1) idBuffer = value;
        break;
      case "retry":
        if (onRetry !== undefined && isAsciiDigits(value)) onRetry(Number(value));
        break;
        // "data" and "event" were handled above; other names are ignored.
    }
  }

  function appendData(value: string): void {
    if (hasData) {
      if (data.length + 1 + value.length > maxBufferSize) fail();
      data = data + "\n" + value;
    } else {
      data = value;
      hasData = true;
    }
  }

  function setType(s: string, from: number, end: number): void {
    const length = end - from;
    if (length === 0) {
      eventType = "";
    } else if (length === typeCache.length && s.startsWith(typeCache, from)) {
      eventType = typeCache;
    } else {
      eventType = typeCache = s.slice(from, end);
    }
  }

  function feed(chunk: Uint8Array): void {
    if (broken) {
      throw new SseParseError(
        "the SSE parser failed on an earlier chunk (or feed() was called from a callback); " +
          "call end() or reset() before feeding it again",
      );
    }
    broken = true;
    const text = decoder.decode(chunk, STREAM);
    const length = text.length;
    if (length === 0) {
      broken = false;
      return;
    }
    let pos = 0;
    if (atStart) {
      atStart = false;
      if (text.charCodeAt(0) === BOM) pos = 1;
    }
    if (skipLeadingLF) {
      skipLeadingLF = false;
      if (text.charCodeAt(0) === LF) pos = 1;
    }
    // Each search result is kept until the scan passes it: every character is searched once.
    let lf = text.indexOf("\n", pos);
    let cr = text.indexOf("\r", pos);

    if (pendingLength !== 0 || pending.length !== 0) {
      if (lf === -1 && cr === -1) {
        pending.push(pos === 0 ? text : text.slice(pos));
        pendingLength += length - pos;
        if (pendingLength > maxBufferSize) fail();
        broken = false;
        return;
      }
      const end = lf === -1 ? cr : cr === -1 ? lf : lf < cr ? lf : cr;
      pending.push(text.slice(pos, end));
      const line = pending.join("");
      pending.length = 0;
      pendingLength = 0;
      if (line.length === 0) dispatch();
      else processLine(line, 0, line.length);
      pos = end + 1;
      if (end === cr) {
        if (pos === length) skipLeadingLF = true;
        else if (text.charCodeAt(pos) === LF) pos++;
      }
    }

    if (cr === -1) {
      // No CR in this chunk (the usual case): a tighter loop with the event fields inlined and
      // the event under construction in locals, which finds the end of a repeated event type
      // and of an empty line without a search.
      let eventData = data;
      let eventHasData = hasData;
      let type = eventType;
      while (pos < length) {
        const c = text.charCodeAt(pos);
        if (c === LF) {
          lastEventId = idBuffer;
          pos++;
          if (eventHasData) {
            const event: SseEvent = {
              type: type === "" ? "message" : type,
              data: eventData,
              lastEventId: idBuffer,
            };
            eventData = "";
            eventHasData = false;
            type = "";
            onEvent(event);
          } else {
            type = "";
          }
          continue;
        }
        if (
          c === 0x64 && text.charCodeAt(pos + 1) === 0x61 && text.charCodeAt(pos + 2) === 0x74 &&
          text.charCodeAt(pos + 3) === 0x61 && text.charCodeAt(pos + 4) === COLON
        ) { // "data:"
          lf = text.indexOf("\n", pos + 5);
          if (lf === -1) break;
          if (lf - pos > maxBufferSize) fail();
          const from = text.charCodeAt(pos + 5) === SPACE ? pos + 6 : pos + 5;
          const value = from < lf ? text.slice(from, lf) : "";
          if (eventHasData) {
            if (eventData.length + 1 + value.length > maxBufferSize) fail();
            eventData = eventData + "\n" + value;
          } else {
            eventData = value;
            eventHasData = true;
          }
          pos = lf + 1;
          continue;
        }
        if (
          c === 0x65 && text.charCodeAt(pos + 1) === 0x76 && text.charCodeAt(pos + 2) === 0x65 &&
          text.charCodeAt(pos + 3) === 0x6e && text.charCodeAt(pos + 4) === 0x74 &&
          text.charCodeAt(pos + 5) === COLON
        ) { // "event:"
          const from = text.charCodeAt(pos + 6) === SPACE ? pos + 7 : pos + 6;
          const known = typeCache.length;
          if (
            known !== 0 && text.charCodeAt(from + known) === LF &&
            text.startsWith(typeCache, from)
          ) {
            if (from + known - pos > maxBufferSize) fail();
            type = typeCache;
            pos = from + known + 1;
            continue;
          }
          lf = text.indexOf("\n", pos + 6);
          if (lf === -1) break;
          if (lf - pos > maxBufferSize) fail();
          type = from < lf ? (typeCache = text.slice(from, lf)) : "";
          pos = lf + 1;
          continue;
        }
        lf = text.indexOf("\n", pos);
        if (lf === -1) break;
        data = eventData;
        hasData = eventHasData;
        eventType = type;
        processLine(text, pos, lf);
        eventData = data;
        eventHasData = hasData;
        type = eventType;
        pos = lf + 1;
      }
      data = eventData;
      hasData = eventHasData;
      eventType = type;
      lf = -1;
    }

    while (pos < length) {
      if (lf !== -1 && lf < pos) lf = text.indexOf("\n", pos);
      if (cr !== -1 && cr < pos) cr = text.indexOf("\r", pos);
      let end: number;
      if (cr === -1) {
        if (lf === -1) break;
        end = lf;
      } else {
        end = lf !== -1 && lf < cr ? lf : cr;
      }
      if (end === pos) dispatch();
      else processLine(text, pos, end);
      pos = end + 1;
      if (end === cr) {
        if (pos === length) skipLeadingLF = true;
        else if (text.charCodeAt(pos) === LF) pos++;
      }
    }

    if (pos < length) {
      pendingLength = length - pos;
      if (pendingLength > maxBufferSize) fail();
      pending.push(pos === 0 ? text : text.slice(pos));
    }
    broken = false;
  }

  function end(): void {
    decoder = new TextDecoder("utf-8", { ignoreBOM: true });
    atStart = true;
    pending.length = 0;
    pendingLength = 0;
    skipLeadingLF = false;
    data = "";
    hasData = false;
    eventType = "";
    idBuffer = "";
    broken = false;
  }

  function reset(): void {
    end();
    lastEventId = "";
  }

  return {
    feed,
    end,
    reset,
    get lastEventId() {
      return lastEventId;
    },
  };
}

/** True when `value` is one or more ASCII digits. */
function isAsciiDigits(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** Options of an {@link SseEventStream}: those of a parser, without `onEvent`. */
export type SseEventStreamOptions = Omit<SseParserOptions, "onEvent">;

/**
 * A `TransformStream` from the bytes of an event stream to its events; an unfinished event at
 * the end of the input is discarded. A line or event over `maxBufferSize` errors the stream
 * with an {@link SseParseError}.
 *
 * @example Events from a response body
 * ```ts
 * import assert from "node:assert/strict";
 * import { SseEventStream } from "./parser.ts";
 *
 * const body = ReadableStream.from(["data: one\n\n", "event: change\ndata: two\n\ndata: cut"])
 *   .pipeThrough(new TextEncoderStream());
 * const events = await Array.fromAsync(body.pipeThrough(new SseEventStream()));
 * assert.deepEqual(events, [
 *   { type: "message", data: "one", lastEventId: "" },
 *   { type: "change", data: "two", lastEventId: "" },
 * ]);
 * ```
 */
export class SseEventStream extends TransformStream<Uint8Array, SseEvent> {
  /**
   * Creates the stream.
   *
   * @throws {RangeError} when `maxBufferSize` is not a positive integer.
   */
  constructor(options: SseEventStreamOptions = {}) {
    let controller: TransformStreamDefaultController<SseEvent>;
    const parser = createSseParser({
      ...options,
      onEvent(event) {
        controller.enqueue(event);
      },
    });
    super({
      start(c) {
        controller = c;
      },
      transform(chunk) {
        parser.feed(chunk);
      },
      flush() {
        parser.end();
      },
    });
  }
}
