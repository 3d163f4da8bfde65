// Test utilities for osp's pooled HTTP/1.1 client: a raw keep-alive HTTP/1.1 server for
// the races of the pool (http1_race_test.ts, http1_stress_test.ts, transport_test.ts): it reads
// requests one after another on each connection and plays a script for each
// (bytes written in pieces, pauses, closes), so that what the client reads
// can be split, late or early at will.

const enc = new TextEncoder();
const latin1 = new TextDecoder("latin1");

/** One request as the server read it. */
export interface Seen {
  /** Which accepted connection (0, 1, …) carried it. */
  conn: number;
  /** Its place on that connection (0 for the first). */
  index: number;
  method: string;
  path: string;
  head: string;
  body: string;
  /** Its answer went out whole (an `answered` step was reached). */
  answered: boolean;
}

/** One step of an answer. */
export type Step =
  | { write: Uint8Array | string }
  | { wait: number }
  /** Marks the request answered: the steps before wrote its answer. */
  | { answered: true }
  /** Closes the connection (the request is not answered unless written before). */
  | { close: true };

/**
 * A keep-alive server playing `script(request)` for each request; a script
 * ending without `close` leaves the connection open for the next request.
 */
export function raceServer(
  script: (seen: Seen) => Step[] | Promise<Step[]>,
  options: {
    /** Closes a connection on which no new request starts for this long (a keep-alive timeout). */
    idleCloseMs?: number;
  } = {},
) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const seen: Seen[] = [];
  const conns = new Set<Deno.TcpConn>();
  const tasks = new Set<Promise<void>>();
  let accepted = 0;
  const serveConn = async (conn: Deno.TcpConn, id: number) => {
    conns.add(conn);
    try {
      conn.setNoDelay(true);
    } catch { /* closed */ }
    let pending = "";
    const buf = new Uint8Array(65536);
    try {
      for (let index = 0;; index++) {
        let end = pending.indexOf("\r\n\r\n");
        const idle = pending === "" && options.idleCloseMs !== undefined
          ? setTimeout(() => {
            try {
              conn.close();
            } catch { /* closed */ }
          }, options.idleCloseMs)
          : undefined;
        while (end < 0) {
          const n = await conn.read(buf).finally(() => clearTimeout(idle));
          if (n === null) return;
          pending += latin1.decode(buf.subarray(0, n));
          end = pending.indexOf("\r\n\r\n");
        }
        const head = pending.slice(0, end);
        pending = pending.slice(end + 4);
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        while (pending.length < length) {
          const n = await conn.read(buf);
          if (n === null) return;
          pending += latin1.decode(buf.subarray(0, n));
        }
        const body = pending.slice(0, length);
        pending = pending.slice(length);
        const [method, path] = head.split(" ");
        const entry = { conn: id, index, method, path, head, body, answered: false };
        seen.push(entry);
        for (const step of await script(entry)) {
          if ("wait" in step) await new Promise((r) => setTimeout(r, step.wait));
          else if ("answered" in step) entry.answered = true;
          else if ("close" in step) return;
          else {
            const bytes = typeof step.write === "string" ? enc.encode(step.write) : step.write;
            for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
          }
        }
      }
    } catch {
      // reset by the client
    } finally {
      conns.delete(conn);
      try {
        conn.close();
      } catch { /* closed */ }
    }
  };
  const done = (async () => {
    for await (const conn of listener) {
      const task = serveConn(conn, accepted++);
      tasks.add(task);
      task.finally(() => tasks.delete(task));
    }
  })();
  const port = (listener.addr as Deno.NetAddr).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    seen,
    /** Connections accepted so far. */
    get connections(): number {
      return accepted;
    },
    /** Closes every open connection from the server's side. */
    dropAll(): void {
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    },
    async close(): Promise<void> {
      listener.close();
      this.dropAll();
      await done.catch(() => {});
      await Promise.all(tasks);
    },
  };
}

/** A response head with a Content-Length, and that many bytes of body (none when `body` is null). */
export function answer(
  status: number,
  body: string | null,
  extra: Record<string, string> = {},
  length = body?.length ?? 0,
): string {
  let head = `HTTP/1.1 ${status} ${
    status === 200 ? "OK" : "Other"
  }\r\ncontent-length: ${length}\r\n`;
  for (const [k, v] of Object.entries(extra)) head += `${k}: ${v}\r\n`;
  return `${head}\r\n${body ?? ""}`;
}

/** `text` written in two pieces, split at `at`, with a pause between. */
export function split(text: string, at: number, wait = 1): Step[] {
  return [{ write: text.slice(0, at) }, { wait }, { write: text.slice(at) }];
}
