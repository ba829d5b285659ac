import assert from "node:assert/strict";
import { SseParseError } from "../src/errors.ts";
import {
  createSseParser,
  type SseEvent,
  SseEventStream,
  type SseParserOptions,
} from "../src/sse/parser.ts";

const encoder = new TextEncoder();

/** Everything a parser reported for one stream. */
interface Parsed {
  events: SseEvent[];
  retries: number[];
  comments: string[];
  lastEventId: string;
}

type Limits = Pick<SseParserOptions, "maxBufferSize">;

function bytesOf(input: string | Uint8Array): Uint8Array {
  return typeof input === "string" ? encoder.encode(input) : input;
}

/** Feeds `chunks` to a new parser, then ends the stream; returns what it reported. */
function parseChunks(chunks: Uint8Array[], limits: Limits = {}): Parsed {
  const parsed: Parsed = { events: [], retries: [], comments: [], lastEventId: "" };
  const parser = createSseParser({
    ...limits,
    onEvent: (event) => parsed.events.push(event),
    onRetry: (ms) => parsed.retries.push(ms),
    onComment: (text) => parsed.comments.push(text),
  });
  for (const chunk of chunks) parser.feed(chunk);
  parser.end();
  parsed.lastEventId = parser.lastEventId;
  return parsed;
}

/**
 * Every way to cut `bytes` into chunks that this suite tries: whole, one byte at a time, every
 * 2-way split (empty chunks included) and, for inputs up to 128 bytes, every 3-way split.
 */
function* splitsOf(bytes: Uint8Array): Generator<Uint8Array[]> {
  yield [bytes];
  yield Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
  for (let i = 0; i <= bytes.length; i++) {
    yield [bytes.subarray(0, i), bytes.subarray(i)];
  }
  if (bytes.length <= 128) {
    for (let i = 1; i < bytes.length; i++) {
      for (let j = i + 1; j < bytes.length; j++) {
        yield [bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)];
      }
    }
  }
}

function describeSplit(chunks: Uint8Array[]): string {
  return `chunk sizes [${chunks.map((c) => c.length).join(", ")}]`;
}

/**
 * Parses `input` in every split and asserts that each gives exactly `expected` (fields left out
 * of `expected` must be empty). Returns the number of splits tried.
 */
function assertEverySplit(
  input: string | Uint8Array,
  expected: Partial<Parsed>,
  limits: Limits = {},
): number {
  const want: Parsed = { events: [], retries: [], comments: [], lastEventId: "", ...expected };
  let count = 0;
  for (const chunks of splitsOf(bytesOf(input))) {
    assert.deepEqual(parseChunks(chunks, limits), want, describeSplit(chunks));
    count++;
  }
  return count;
}

/** Asserts that every split of `input` throws an SseParseError that does not contain `secret`. */
function assertEverySplitThrows(input: string, limits: Limits, secret: string): void {
  for (const chunks of splitsOf(bytesOf(input))) {
    assert.throws(
      () => parseChunks(chunks, limits),
      (error: unknown) => {
        assert.ok(error instanceof SseParseError, describeSplit(chunks));
        assert.match(error.message, /maxBufferSize/);
        assert.ok(!error.message.includes(secret), "the message must not hold stream contents");
        return true;
      },
      describeSplit(chunks),
    );
  }
}

function message(data: string, lastEventId = ""): SseEvent {
  return { type: "message", data, lastEventId };
}

const STASH_EVENT =
  'event: change\ndata: {"key":"app/config","action":"update","timestamp":"2026-01-04T10:30:00Z"}\n\n';

Deno.test("parser reads the exact Stash change event in every chunk split", () => {
  const count = assertEverySplit(STASH_EVENT, {
    events: [{
      type: "change",
      data: '{"key":"app/config","action":"update","timestamp":"2026-01-04T10:30:00Z"}',
      lastEventId: "",
    }],
  });
  assert.ok(count > 4000, `expected every 3-way split to be tried, tried ${count}`);
});

Deno.test("parser reads a run of Stash change events in every chunk split", () => {
  const second = STASH_EVENT.replace("update", "delete").replace("app/config", "app/x");
  assertEverySplit(STASH_EVENT + second, {
    events: [
      {
        type: "change",
        data: '{"key":"app/config","action":"update","timestamp":"2026-01-04T10:30:00Z"}',
        lastEventId: "",
      },
      {
        type: "change",
        data: '{"key":"app/x","action":"delete","timestamp":"2026-01-04T10:30:00Z"}',
        lastEventId: "",
      },
    ],
  });
});

Deno.test("parser ends lines at LF, CR and CRLF alike", () => {
  for (const eol of ["\n", "\r", "\r\n"]) {
    assertEverySplit(`event: a${eol}data: 1${eol}data: 2${eol}${eol}data: 3${eol}${eol}`, {
      events: [{ type: "a", data: "1\n2", lastEventId: "" }, message("3")],
    });
  }
  assertEverySplit("data: 1\rdata: 2\ndata: 3\r\n\rdata: 4\n\r\n", {
    events: [message("1\n2\n3"), message("4")],
  });
});

Deno.test("parser treats a CR ending one chunk and an LF starting the next as one line end", () => {
  const chunks = ["data: a\r", "\ndata: b\r", "\n\r", "\n"].map((s) => encoder.encode(s));
  assert.deepEqual(parseChunks(chunks).events, [message("a\nb")]);
  // Empty chunks in between do not break the pair.
  const withEmpty = ["data: a\r", "", "\n", "", "\r", "", "\n"].map((s) => encoder.encode(s));
  assert.deepEqual(parseChunks(withEmpty).events, [message("a")]);
  // CRLF CRLF with every split: exactly one event, no spurious empty lines.
  assertEverySplit("data: a\r\n\r\ndata: b\r\n\r\n", { events: [message("a"), message("b")] });
});

Deno.test("parser dispatches a CR-terminated event without waiting for the next chunk", () => {
  const events: SseEvent[] = [];
  const parser = createSseParser({ onEvent: (event) => events.push(event) });
  parser.feed(encoder.encode("data: now\r\r"));
  assert.deepEqual(events, [message("now")]);
  parser.feed(encoder.encode("\ndata: next\n\n"));
  assert.deepEqual(events, [message("now"), message("next")]);
});

Deno.test("parser treats a final CR as a line end", () => {
  assertEverySplit("data: a\n\r", { events: [message("a")] });
});

Deno.test("parser skips a UTF-8 BOM at the start of the stream, split anywhere", () => {
  assertEverySplit("\uFEFFdata: a\n\n", { events: [message("a")] });
  assertEverySplit("\uFEFF\n\uFEFF\n", {}); // BOM, empty line, then an unknown field "\uFEFF"
});

Deno.test("parser skips only one BOM and keeps a BOM that is not at the start", () => {
  // A second BOM makes the field name "\uFEFFdata", which is unknown: no event.
  assertEverySplit("\uFEFF\uFEFFdata: a\n\ndata: b\n\n", { events: [message("b")] });
  assertEverySplit("data: a\n\n\uFEFFdata: b\n\ndata: c\n\n", {
    events: [message("a"), message("c")],
  });
  assertEverySplit("data: \uFEFFa\uFEFF\n\n", { events: [message("\uFEFFa\uFEFF")] });
});

Deno.test("parser keeps a BOM that starts a later chunk of a stream that had none", () => {
  const chunks = ["data: a\n\n", "\uFEFFdata: b\n\n", "data: \uFEFF\n\n"].map((s) =>
    encoder.encode(s)
  );
  assert.deepEqual(parseChunks(chunks).events, [message("a"), message("\uFEFF")]);
});

Deno.test("parser decodes multi-byte UTF-8 characters split across chunks", () => {
  const count = assertEverySplit("data: é€😀\n\nevent: ünï\ndata: ∂\n\n", {
    events: [message("é€😀"), { type: "ünï", data: "∂", lastEventId: "" }],
  });
  assert.ok(count > 100);
});

Deno.test("parser replaces malformed UTF-8 with U+FFFD", () => {
  const bytes = new Uint8Array([
    ...encoder.encode("data: "),
    0xff,
    0x61,
    0xe2,
    0x82, // truncated "€" followed by LF
    0x0a,
    0x0a,
  ]);
  assertEverySplit(bytes, { events: [message("\uFFFDa\uFFFD")] });
});

Deno.test("parser joins data lines with LF", () => {
  assertEverySplit("data: a\ndata: b\ndata:\ndata: c\n\n", { events: [message("a\nb\n\nc")] });
  assertEverySplit("data\ndata\n\n", { events: [message("\n")] });
  assertEverySplit("data: x\ndata\n\n", { events: [message("x\n")] });
});

Deno.test("parser removes exactly one space after the colon", () => {
  assertEverySplit("data:a\n\ndata: a\n\ndata:  a\n\ndata: a \n\ndata:\ta\n\n", {
    events: [message("a"), message("a"), message(" a"), message("a "), message("\ta")],
  });
  assertEverySplit("event:  x\ndata:1\n\nid:  7\ndata:2\n\n", {
    events: [{ type: " x", data: "1", lastEventId: "" }, message("2", " 7")],
    lastEventId: " 7",
  });
  assertEverySplit(":  two spaces\n", { comments: [" two spaces"] });
});

Deno.test("parser reports comments and never dispatches them", () => {
  assertEverySplit(": hello\n:world\n:\n:  two\ndata: x\n\n:c\n\n", {
    comments: ["hello", "world", "", " two", "c"],
    events: [message("x")],
  });
  // Without onComment, comments are ignored.
  const events: SseEvent[] = [];
  const parser = createSseParser({ onEvent: (event) => events.push(event) });
  parser.feed(encoder.encode(": ping\n\ndata: x\n\n"));
  assert.deepEqual(events, [message("x")]);
});

Deno.test("parser ignores an id that contains NUL", () => {
  assertEverySplit("id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n", {
    events: [message("a", "1"), message("b", "1")],
    lastEventId: "1",
  });
});

Deno.test("parser keeps the last event id across events until an id changes it", () => {
  assertEverySplit(
    "id: 7\ndata: a\n\ndata: b\n\nid\ndata: c\n\nid: 8\ndata: d\n\nid:\ndata: e\n\n",
    {
      events: [
        message("a", "7"),
        message("b", "7"),
        message("c", ""),
        message("d", "8"),
        message("e", ""),
      ],
    },
  );
  // An id in an event without data still sets the id of the events after it.
  assertEverySplit("id: 3\n\ndata: x\n\n", { events: [message("x", "3")], lastEventId: "3" });
});

Deno.test("lastEventId reports the id as of the last empty line", () => {
  const parser = createSseParser({ onEvent: () => {} });
  assert.equal(parser.lastEventId, "");
  parser.feed(encoder.encode("id: 9\n"));
  assert.equal(parser.lastEventId, "", "not before the empty line");
  parser.feed(encoder.encode("\n"));
  assert.equal(parser.lastEventId, "9", "an id-only event updates it");
  parser.feed(encoder.encode("id: 10\ndata: cut"));
  parser.end();
  assert.equal(parser.lastEventId, "9", "an unfinished event does not update it");
  parser.reset();
  assert.equal(parser.lastEventId, "");
});

Deno.test("parser reports retry only when its value is ASCII digits", () => {
  assertEverySplit(
    "retry: 1000\nretry: 10a\nretry:\nretry\nretry: -1\nretry: 1.5\nretry:  5\nretry: ١٢\n" +
      "retry: 0\nretry:007\n\ndata: x\n\n",
    { retries: [1000, 0, 7], events: [message("x")] },
  );
});

Deno.test("parser ignores unknown fields, matching field names case-sensitively", () => {
  assertEverySplit("foo: bar\nDATA: x\nData: y\ndata : z\n data: w\nevent\n\n", {});
  assertEverySplit("foo: bar\ndata: x\nbaz\nretry2: 5\nid2: 4\n\n", { events: [message("x")] });
});

Deno.test("parser takes a line without a colon as a field name with an empty value", () => {
  assertEverySplit("data\n\n", { events: [message("")] });
  assertEverySplit("event: x\nevent\ndata: y\n\n", { events: [message("y")] });
  assertEverySplit("id: 5\nid\ndata: y\n\n", { events: [message("y", "")] });
});

Deno.test("parser discards an unfinished event at the end of the stream", () => {
  assertEverySplit("data: a\n\ndata: b\n", { events: [message("a")] });
  assertEverySplit("data: a\n\ndata: b", { events: [message("a")] });
  assertEverySplit("data: a\n\ndata: b\r", { events: [message("a")] });
  assertEverySplit("data: a\n\nevent: x\ndata: b\ndata: c\n", { events: [message("a")] });
});

Deno.test("parser dispatches an empty line only when the event has data", () => {
  assertEverySplit("\n\n\r\n\r", {});
  assertEverySplit("event: x\nid: 3\n\n", { lastEventId: "3" });
  assertEverySplit("data:\n\n", { events: [message("")] });
  // An empty line without data still resets the event type.
  assertEverySplit("event: x\n\ndata: y\n\n", { events: [message("y")] });
  // The type resets after each dispatch, and an empty type means "message".
  assertEverySplit("event: a\ndata: 1\n\ndata: 2\n\nevent:\ndata: 3\n\n", {
    events: [{ type: "a", data: "1", lastEventId: "" }, message("2"), message("3")],
  });
});

Deno.test("parser throws SseParseError when a line exceeds maxBufferSize", () => {
  const limits = { maxBufferSize: 16 };
  assertEverySplit("data: 0123456789\n\n", { events: [message("0123456789")] }, limits);
  assertEverySplitThrows("data: 0123456789A\n\n", limits, "0123456789A");
  // Lines that are not kept count too, so the outcome does not depend on chunking.
  assertEverySplitThrows(": secret-secret-s\n", limits, "secret-secret");
  assertEverySplitThrows("data: a\n\nsecret-secret-secret", limits, "secret-secret");
});

Deno.test("parser throws SseParseError when the data of one event exceeds maxBufferSize", () => {
  const limits = { maxBufferSize: 16 };
  assertEverySplit("data:0123456789\ndata:abcde\n\n", {
    events: [message("0123456789\nabcde")],
  }, limits);
  assertEverySplitThrows("data:0123456789\ndata:abcdef\n\n", limits, "abcdef");
  // The limit applies per event, not to the whole stream.
  assertEverySplit("data:0123456789\n\ndata:abcdef\n\n", {
    events: [message("0123456789"), message("abcdef")],
  }, limits);
});

Deno.test("parser accepts a line of 1 MiB by default and rejects a longer one", () => {
  const value = "x".repeat(1024 * 1024 - "data: ".length);
  const ok = encoder.encode(`data: ${value}\n\n`);
  for (const size of [ok.length, 65536, 4093]) {
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < ok.length; i += size) chunks.push(ok.subarray(i, i + size));
    assert.deepEqual(parseChunks(chunks).events, [message(value)]);
  }
  const tooLong = encoder.encode(`data: ${value}y\n\n`);
  for (const size of [tooLong.length, 65536, 4093]) {
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < tooLong.length; i += size) chunks.push(tooLong.subarray(i, i + size));
    assert.throws(() => parseChunks(chunks), SseParseError);
  }
});

Deno.test("parser joins a line that spans thousands of chunks", () => {
  const value = "0123456789abcdef".repeat(8192); // 128 KiB
  for (const eol of ["\n", "\r", "\r\n"]) {
    const bytes = encoder.encode(`id: 1${eol}data: ${value}${eol}data: é${eol}${eol}`);
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i += 7) chunks.push(bytes.subarray(i, i + 7));
    assert.deepEqual(parseChunks(chunks).events, [message(`${value}\né`, "1")]);
  }
});

Deno.test("parser refuses input after an error until end() or reset()", () => {
  const events: SseEvent[] = [];
  const parser = createSseParser({ onEvent: (event) => events.push(event), maxBufferSize: 8 });
  assert.throws(() => parser.feed(encoder.encode("data: 123456789\n\n")), SseParseError);
  assert.throws(() => parser.feed(encoder.encode("data: ok\n\n")), /call end\(\) or reset\(\)/);
  parser.reset();
  parser.feed(encoder.encode("data: ok\n\n"));
  assert.deepEqual(events, [message("ok")]);
});

Deno.test("parser lets an exception from onEvent through and then refuses input", () => {
  const boom = new Error("boom");
  const parser = createSseParser({
    onEvent: () => {
      throw boom;
    },
  });
  assert.throws(() => parser.feed(encoder.encode("data: a\n\ndata: b\n\n")), boom);
  assert.throws(() => parser.feed(encoder.encode("\n")), SseParseError);
  parser.end();
  assert.throws(() => parser.feed(encoder.encode("data: c\n\n")), boom);
});

Deno.test("end() starts a new stream with fresh buffers and BOM handling", () => {
  const events: SseEvent[] = [];
  const parser = createSseParser({ onEvent: (event) => events.push(event) });
  parser.feed(encoder.encode("\uFEFFid: 1\nevent: x\ndata: a\n\nevent: y\ndata: cut\r"));
  parser.end();
  parser.feed(encoder.encode("\uFEFF\ndata: b\n\n"));
  parser.end();
  assert.deepEqual(events, [{ type: "x", data: "a", lastEventId: "1" }, message("b", "")]);
  assert.equal(parser.lastEventId, "");
});

Deno.test("createSseParser validates its options", () => {
  assert.throws(
    () => createSseParser({} as SseParserOptions),
    { name: "TypeError", message: "onEvent must be a function, received undefined" },
  );
  for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(
      () => createSseParser({ onEvent: () => {}, maxBufferSize: bad }),
      { name: "RangeError", message: `maxBufferSize must be a positive integer, received ${bad}` },
    );
  }
});

Deno.test("SseEventStream turns a byte stream into events with pipeThrough", async () => {
  const retries: number[] = [];
  const bytes = encoder.encode(`retry: 250\n${STASH_EVENT}id: 4\ndata: é\n\ndata: cut`);
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += 7) chunks.push(bytes.slice(i, i + 7));
  const stream = ReadableStream.from(chunks).pipeThrough(
    new SseEventStream({ onRetry: (ms) => retries.push(ms) }),
  );
  assert.deepEqual(await Array.fromAsync(stream), [
    {
      type: "change",
      data: '{"key":"app/config","action":"update","timestamp":"2026-01-04T10:30:00Z"}',
      lastEventId: "",
    },
    message("é", "4"),
  ]);
  assert.deepEqual(retries, [250]);
});

Deno.test("SseEventStream errors with SseParseError when a line exceeds maxBufferSize", async () => {
  const stream = ReadableStream.from([encoder.encode("data: ok\n\ndata: far-too-long\n\n")])
    .pipeThrough(new SseEventStream({ maxBufferSize: 8 }));
  const seen: SseEvent[] = [];
  await assert.rejects(async () => {
    for await (const event of stream) seen.push(event);
  }, SseParseError);
  assert.deepEqual(seen, [message("ok")]);
});

/**
 * A literal, slow rendering of the standard's algorithm, to check the parser against on
 * random input: decode everything, split into lines, interpret each line.
 */
function referenceParse(bytes: Uint8Array): Parsed {
  const parsed: Parsed = { events: [], retries: [], comments: [], lastEventId: "" };
  let text = new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes);
  if (text.startsWith("\uFEFF")) text = text.slice(1);
  let data = "";
  let type = "";
  let id = "";
  let line = "";
  const lines: string[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\r" || c === "\n") {
      lines.push(line);
      line = "";
      if (c === "\r" && text[i + 1] === "\n") i++;
    } else {
      line += c;
    }
  }
  for (const l of lines) {
    if (l === "") {
      parsed.lastEventId = id;
      if (data !== "") {
        parsed.events.push({ type: type || "message", data: data.slice(0, -1), lastEventId: id });
      }
      data = "";
      type = "";
      continue;
    }
    if (l.startsWith(":")) {
      parsed.comments.push(l.slice(l.startsWith(": ") ? 2 : 1));
      continue;
    }
    const colon = l.indexOf(":");
    const name = colon === -1 ? l : l.slice(0, colon);
    let value = colon === -1 ? "" : l.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "event") type = value;
    else if (name === "data") data += value + "\n";
    else if (name === "id" && !value.includes("\0")) id = value;
    else if (name === "retry" && /^[0-9]+$/.test(value)) parsed.retries.push(Number(value));
  }
  return parsed;
}

/** A small seeded PRNG (mulberry32), so that failures can be replayed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("parser agrees with a literal reading of the standard on random streams", () => {
  const pieces = [
    "data",
    "event",
    "id",
    "retry",
    "x",
    ":",
    " ",
    "  ",
    "\r",
    "\n",
    "\r\n",
    "\n\n",
    "é",
    "😀",
    "\uFEFF",
    "\0",
    "12",
    "a",
    "Data",
    "data:",
    "data: ",
    "event: change",
    ": c",
  ];
  const random = prng(20260104);
  for (let round = 0; round < 3000; round++) {
    let input = "";
    const pieceCount = 1 + Math.floor(random() * 40);
    for (let i = 0; i < pieceCount; i++) input += pieces[Math.floor(random() * pieces.length)];
    const bytes = encoder.encode(input);
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < bytes.length;) {
      const size = Math.floor(random() * 8);
      chunks.push(bytes.subarray(i, i + size));
      i += size;
    }
    assert.deepEqual(
      parseChunks(chunks),
      referenceParse(bytes),
      `input ${JSON.stringify(input)}, ${describeSplit(chunks)}`,
    );
  }
});
