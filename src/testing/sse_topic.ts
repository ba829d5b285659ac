/**
 * What a subscription path asks for: one key, a prefix (whole segments) or everything.
 *
 * @module
 */

import { trimSlashes } from "../keys.ts";

/** The keys one subscription receives events for. */
export type SseTopic =
  | { readonly kind: "all" }
  | { readonly kind: "prefix"; readonly prefix: string }
  | { readonly kind: "exact"; readonly key: string };

/**
 * Reads the decoded path after `/kv/subscribe/`: `*` is every key, `p/*` or `p/` every key under
 * `p`, anything else one key, trimmed of slashes only (spaces are not turned into `_`).
 * Returns `undefined` for an empty path (the server's 400 `key path required`).
 */
export function parseTopic(path: string): SseTopic | undefined {
  if (path === "*") return { kind: "all" };
  if (path.endsWith("/*") || path.endsWith("/")) {
    const prefix = trimSlashes(path.endsWith("*") ? path.slice(0, -1) : path);
    return prefix === "" ? { kind: "all" } : { kind: "prefix", prefix };
  }
  const key = trimSlashes(path);
  return key === "" ? undefined : { kind: "exact", key };
}

/** True when an event for `key` goes to a subscriber of `topic`. */
export function topicMatches(topic: SseTopic, key: string): boolean {
  switch (topic.kind) {
    case "all":
      return true;
    case "prefix":
      return key.startsWith(`${topic.prefix}/`);
    case "exact":
      return key === topic.key;
  }
}

/** The key pattern whose read permission a subscriber of `topic` needs. */
export function topicPattern(topic: SseTopic): string {
  switch (topic.kind) {
    case "all":
      return "*";
    case "prefix":
      return `${topic.prefix}/*`;
    case "exact":
      return topic.key;
  }
}
