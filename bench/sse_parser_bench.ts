/**
 * The SSE parser against eventsource-parser (the baseline) on the same ~50 MB of Stash `change`
 * events, cut into chunks of random sizes (1..16384 bytes, seeded) before the bench starts.
 * eventsource-parser takes strings, so its run includes a streaming TextDecoder, as ours does.
 *
 *     deno bench bench/sse_parser_bench.ts
 */
// deno-lint-ignore no-import-prefix -- a bench-only reference, kept out of the import map
import { createParser } from "npm:eventsource-parser@3";
import { createSseParser } from "../src/sse/parser.ts";

const TARGET_BYTES = 50 * 1024 * 1024;
const MAX_CHUNK = 16384;

/** mulberry32: a small seeded PRNG, so every run parses the same chunks. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeStream(): { chunks: Uint8Array[]; events: number } {
  const random = prng(0x5ea5);
  const actions = ["create", "update", "delete"];
  const keys = ["app/config", "app/feature-flags", "svc/db/url", "team/a/limits", "x"];
  const parts: string[] = [];
  let size = 0;
  let events = 0;
  while (size < TARGET_BYTES) {
    const key = keys[Math.floor(random() * keys.length)] + (events % 97);
    const action = actions[Math.floor(random() * actions.length)];
    const second = String(events % 60).padStart(2, "0");
    const event = `event: change\ndata: {"key":"${key}","action":"${action}",` +
      `"timestamp":"2026-01-04T10:30:${second}Z"}\n\n`;
    parts.push(event);
    size += event.length;
    events++;
  }
  const bytes = new TextEncoder().encode(parts.join(""));
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length;) {
    const n = 1 + Math.floor(random() * MAX_CHUNK);
    chunks.push(bytes.slice(i, i + n));
    i += n;
  }
  return { chunks, events };
}

const { chunks, events } = makeStream();

function runOurs(): number {
  let count = 0;
  let length = 0;
  const parser = createSseParser({
    onEvent(event) {
      count++;
      length += event.data.length + event.type.length;
    },
  });
  for (const chunk of chunks) parser.feed(chunk);
  parser.end();
  return count + length;
}

function runReference(): number {
  let count = 0;
  let length = 0;
  const parser = createParser({
    onEvent(event) {
      count++;
      length += event.data.length + (event.event ?? "message").length;
    },
  });
  const decoder = new TextDecoder();
  for (const chunk of chunks) parser.feed(decoder.decode(chunk, { stream: true }));
  return count + length;
}

// Both must see the same events, or the comparison means nothing.
const expected = runReference();
if (runOurs() !== expected || expected < events) {
  throw new Error("the parsers disagree on the benchmark stream");
}

const group = `parse ${(TARGET_BYTES / 1024 / 1024).toFixed(0)} MB of Stash change events ` +
  `(${events} events, ${chunks.length} chunks)`;

Deno.bench({
  name: "eventsource-parser@3 + streaming TextDecoder",
  group,
  baseline: true,
  n: 60,
  warmup: 10,
  fn() {
    runReference();
  },
});

Deno.bench({
  name: "createSseParser (src/sse/parser.ts)",
  group,
  n: 60,
  warmup: 10,
  fn() {
    runOurs();
  },
});
