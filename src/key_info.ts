/**
 * Key metadata as the list endpoint reports it, parsed strictly.
 *
 * @module
 */

import { ResponseError } from "./errors.ts";
import { type Format, isFormat } from "./format.ts";

/** Metadata of one stored key. */
export interface KeyInfo {
  /** The key, as stored (normalised by the server). */
  key: string;
  /** Bytes of the stored value; for an encrypted value, the length of its `$ZK$...` text. */
  size: number;
  /** The value's format. */
  format: Format;
  /** True when a path segment is exactly `secrets`: the server encrypts it at rest. */
  secret: boolean;
  /** True when the stored value is a zero-knowledge envelope (`$ZK$...`). */
  zkEncrypted: boolean;
  /** When the key was created. */
  createdAt: Date;
  /** When the key was last written. */
  updatedAt: Date;
}

// RFC 3339 in UTC or with an offset, 0 to 9 fractional digits.
const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i;

/** Parses an RFC 3339 timestamp with 0–9 fractional digits (JavaScript keeps milliseconds). */
export function parseTimestamp(text: unknown): Date | undefined {
  if (typeof text !== "string") return undefined;
  const match = RFC3339.exec(text);
  if (!match) return undefined;
  const [, whole, fraction = "", zone] = match;
  const millis = fraction.padEnd(3, "0").slice(0, 3);
  const date = new Date(`${whole}.${millis}${zone.toUpperCase()}`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/**
 * The server's own `updated_at` text of each parsed item: nanosecond precision, where a `Date`
 * keeps milliseconds. A watch compares versions with it, so two writes within one millisecond
 * still differ. Held aside so `KeyInfo` stays a plain, comparable object.
 */
const exactUpdatedAt = new WeakMap<KeyInfo, string>();

/** The server's exact `updated_at` text of an item from {@link parseKeyList}. */
export function exactUpdatedAtOf(info: KeyInfo): string | undefined {
  return exactUpdatedAt.get(info);
}

/** Parses the body of `GET /kv/`: a JSON array of items, or `null` for none. */
export function parseKeyList(body: string, context: { method: string; key?: string }): KeyInfo[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw malformed("the list is not valid JSON", context);
  }
  if (parsed === null) return [];
  if (!Array.isArray(parsed)) throw malformed("the list is not a JSON array", context);
  return parsed.map((item, index) => parseItem(item, index, context));
}

function parseItem(item: unknown, index: number, context: { method: string }): KeyInfo {
  const o = (typeof item === "object" && item !== null ? item : {}) as Record<string, unknown>;
  const createdAt = parseTimestamp(o.created_at);
  const updatedAt = parseTimestamp(o.updated_at);
  const valid = typeof o.key === "string" && typeof o.size === "number" &&
    Number.isSafeInteger(o.size) && o.size >= 0 && typeof o.secret === "boolean" &&
    typeof o.zk_encrypted === "boolean" && createdAt && updatedAt;
  if (!valid) throw malformed(`list item ${index} is malformed`, context);
  const info: KeyInfo = {
    key: o.key as string,
    size: o.size as number,
    // A newer server may know formats this client does not; show them as text.
    format: isFormat(o.format) ? o.format : "text",
    secret: o.secret as boolean,
    zkEncrypted: o.zk_encrypted as boolean,
    createdAt: createdAt!,
    updatedAt: updatedAt!,
  };
  exactUpdatedAt.set(info, o.updated_at as string);
  return info;
}

function malformed(what: string, context: { method: string; key?: string }): ResponseError {
  return new ResponseError(200, `malformed response: ${what}`, context);
}
