/** A scripted `fetch` for tests: answers each call with the next reply and records requests. */

export interface Recorded {
  method: string;
  url: URL;
  headers: Headers;
  body: Uint8Array;
}

export type Reply = Response | Error | ((request: Request) => Response | Promise<Response>);

export interface FakeFetch {
  fetch: (input: Request | URL | string, init?: RequestInit) => Promise<Response>;
  calls: Recorded[];
}

/** Each call takes the next reply; the last one repeats. */
export function fakeFetch(...replies: Reply[]): FakeFetch {
  const calls: Recorded[] = [];
  return {
    calls,
    async fetch(input, init) {
      const request = new Request(input, init);
      const body = new Uint8Array(await request.arrayBuffer());
      calls.push({
        method: request.method,
        url: new URL(request.url),
        headers: request.headers,
        body,
      });
      const reply = replies[Math.min(calls.length - 1, replies.length - 1)];
      if (reply instanceof Error) throw reply;
      if (typeof reply === "function") return await reply(request);
      return reply.clone();
    },
  };
}

/** A JSON response. */
export function json(status: number, value: unknown, headers: HeadersInit = {}): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json", ...Object.fromEntries(new Headers(headers)) },
  });
}

/** A plain-text response. */
export function text(status: number, body: string, headers: HeadersInit = {}): Response {
  return new Response(status === 204 ? null : body, { status, headers });
}
