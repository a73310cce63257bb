// The REST API, with the token the user signed in with. The token lives in
// this tab's session storage only: closing the tab signs out.

import type { Snapshot } from "./types";

const KEY = "weir.token";

export function token(): string | null {
  return sessionStorage.getItem(KEY);
}

export function signIn(t: string) {
  sessionStorage.setItem(KEY, t.trim());
}

export function signOut() {
  sessionStorage.removeItem(KEY);
}

/** An answer that was not 2xx: the status and the API's `error`. */
export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
  ) {
    super(message);
  }
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  return { Authorization: `Bearer ${token() ?? ""}`, ...extra };
}

async function check(r: Response): Promise<Response> {
  if (r.ok) return r;
  let message = `${r.status} ${r.statusText}`;
  try {
    const body = await r.json();
    if (body && typeof body.error === "string") message = body.error;
  } catch {
    // not JSON: keep the status line
  }
  throw new ApiError(r.status, message);
}

export async function getJson<T>(path: string): Promise<T> {
  const r = await check(await fetch(path, { headers: headers() }));
  return (await r.json()) as T;
}

export async function getText(path: string): Promise<string> {
  const r = await check(await fetch(path, { headers: headers() }));
  return await r.text();
}

export async function postJson<T>(path: string, body: unknown): Promise<T> {
  const r = await check(
    await fetch(path, {
      method: "POST",
      headers: headers({ "Content-Type": "application/json" }),
      body: JSON.stringify(body),
    }),
  );
  return (await r.json()) as T;
}

/** Base64 of a file's bytes (the swap API takes the component so). */
export async function base64Of(file: Blob): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/**
 * Follow `GET /v1/stream` (server-sent events, read through fetch so the
 * token goes in a header, never in a URL): `onSnapshot` gets each event,
 * `onError` a failure; it reconnects after a failure until stopped.
 * Returns the stop function.
 */
export function follow(
  job: string | null,
  onSnapshot: (s: Snapshot) => void,
  onError: (e: Error) => void,
): () => void {
  let stopped = false;
  let controller = new AbortController();
  const url = job ? `/v1/stream?job=${encodeURIComponent(job)}` : "/v1/stream";
  const run = async () => {
    while (!stopped) {
      controller = new AbortController();
      try {
        const r = await check(
          await fetch(url, { headers: headers(), signal: controller.signal }),
        );
        const reader = r.body!.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const event = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = event
              .split("\n")
              .filter((l) => l.startsWith("data:"))
              .map((l) => l.slice(5).trimStart())
              .join("\n");
            if (data) onSnapshot(JSON.parse(data) as Snapshot);
          }
        }
      } catch (e) {
        if (stopped) return;
        onError(e as Error);
        if (e instanceof ApiError && (e.status === 401 || e.status === 429)) return;
      }
      if (!stopped) await new Promise((r) => setTimeout(r, 2000));
    }
  };
  void run();
  return () => {
    stopped = true;
    controller.abort();
  };
}
