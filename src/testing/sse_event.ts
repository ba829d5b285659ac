/**
 * The bytes of one change event, as the server writes them, with the test server's wire
 * variations (line endings, a `retry:` field, splitting into small chunks).
 *
 * @module
 */

import { goJson } from "./go_json.ts";
import type { StoreChange } from "./store.ts";
import { formatRfc3339 } from "./time.ts";

/** How events are written on the wire. The defaults are exactly what the real server sends. */
export interface SseWireFormat {
  /**
   * Splits each event's bytes into chunks of at most this many bytes, each handed to the
   * connection separately, so clients meet events cut across reads. `0` sends whole events.
   * @default 0
   */
  chunkSize?: number;
  /**
   * The line ending of the event lines (the real server writes `"\n"`).
   * @default "\n"
   */
  lineEnding?: "\n" | "\r\n" | "\r";
  /**
   * When a number, each event starts with a `retry: <n>` line (the real server never sends one).
   * @default null
   */
  retry?: number | null;
}

/** A complete, checked wire format. */
export type ResolvedWireFormat = Required<SseWireFormat>;

/** The real server's wire format. */
export const DEFAULT_WIRE_FORMAT: ResolvedWireFormat = Object.freeze({
  chunkSize: 0,
  lineEnding: "\n",
  retry: null,
});

/** Merges `update` into `base`; throws `RangeError` naming a bad field. */
export function resolveWireFormat(
  base: ResolvedWireFormat,
  update: SseWireFormat = {},
): ResolvedWireFormat {
  const next = { ...base, ...update };
  if (!Number.isSafeInteger(next.chunkSize) || next.chunkSize < 0) {
    throw new RangeError(`chunkSize must be a non-negative integer, received ${next.chunkSize}`);
  }
  if (!["\n", "\r\n", "\r"].includes(next.lineEnding)) {
    throw new RangeError(
      `lineEnding must be "\\n", "\\r\\n" or "\\r", received ${next.lineEnding}`,
    );
  }
  if (next.retry !== null && (!Number.isSafeInteger(next.retry) || next.retry < 0)) {
    throw new RangeError(`retry must be a non-negative integer or null, received ${next.retry}`);
  }
  return next;
}

const utf8 = new TextEncoder();

/**
 * The text of one event, by default exactly
 * `event: change\ndata: {"key":...,"action":...,"timestamp":"<RFC 3339 seconds UTC>"}\n\n`.
 */
export function eventText(change: StoreChange, format: ResolvedWireFormat): string {
  const eol = format.lineEnding;
  const data = goJson({
    key: change.key,
    action: change.action,
    timestamp: formatRfc3339(change.time),
  });
  const retry = format.retry === null ? "" : `retry: ${format.retry}${eol}`;
  return `${retry}event: change${eol}data: ${data}${eol}${eol}`;
}

/** The bytes of one event, split into chunks as the format asks. */
export function eventChunks(change: StoreChange, format: ResolvedWireFormat): Uint8Array[] {
  const bytes = utf8.encode(eventText(change, format));
  if (format.chunkSize === 0 || bytes.length <= format.chunkSize) return [bytes];
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += format.chunkSize) {
    chunks.push(bytes.subarray(i, i + format.chunkSize));
  }
  return chunks;
}
