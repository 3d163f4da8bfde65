// Reads Ceph RGW's ops log (enabled by tests/_rgw.ts: rgw_ops_log_file_path,
// rgw_log_nonexistent_bucket): what RGW itself says it ran, for differential
// tests. Measured on RGW 16.2.15:
// - JSON objects appended as soon as the request is done (well under a
//   millisecond after the response), usually one per line but sometimes two
//   with no newline between them (`…}{…`): {@linkcode splitJsonObjects}; the
//   file appears with the first entry;
// - fields: bucket ("tenant/bucket" when the name held a `:`), operation (RGW's
//   op name: get_obj, put_obj, copy_obj, delete_obj, multi_object_delete…),
//   uri (`METHOD <raw target as received>[?<query again>] HTTP/1.1`),
//   http_status (a string), error_code, user_agent, trans_id (the
//   x-amz-request-id of the response), user, access_key_id, object_owner,
//   op_data (DeleteObjects: every key RGW deleted). There is no object field:
//   the key is read from the uri, as RGW does ({@linkcode entryObject});
// - not logged: requests refused before an operation is chosen (bad
//   signature, 405, 501) and ListBuckets.

/** One ops-log entry (the fields tests use; RGW writes a few more). */
export interface OpsLogEntry {
  bucket: string;
  operation: string;
  /** `METHOD <raw target>[?<query>] HTTP/1.1`, see {@linkcode parseEntryUri}. */
  uri: string;
  http_status: string;
  error_code: string;
  user_agent: string;
  trans_id: string;
  time: string;
  user?: string;
  op_data?: {
    num_ok: number;
    num_err: number;
    objects: { key: string; version_id: string; http_status: number; error: boolean }[];
  };
}

/** The request line RGW logged, split. */
export interface EntryTarget {
  method: string;
  /** The raw path as RGW received it. */
  rawPath: string;
  /** The raw query (without `?`), "" when none. */
  rawQuery: string;
}

/** Splits an entry's uri (RGW appends the query a second time: `/b/k?q?q`). */
export function parseEntryUri(uri: string): EntryTarget {
  const m = /^(\S+) (.*) HTTP\/\d\.\d$/.exec(uri);
  if (m === null) throw new Error(`unexpected ops-log uri: ${JSON.stringify(uri)}`);
  const [, method, target] = m;
  const q = target.indexOf("?");
  if (q < 0) return { method, rawPath: target, rawQuery: "" };
  const rest = target.slice(q + 1);
  const half = (rest.length - 1) / 2;
  const twice = Number.isInteger(half) && rest[half] === "?" &&
    rest.slice(0, half) === rest.slice(half + 1);
  return { method, rawPath: target.slice(0, q), rawQuery: twice ? rest.slice(0, half) : rest };
}

/** RGW's url_decode: every valid `%XX` becomes its byte, the rest stays; read as UTF-8. */
export function rgwDecode(raw: string, options: { plusIsSpace?: boolean } = {}): string {
  const text = options.plusIsSpace ? raw.replaceAll("+", " ") : raw;
  const bytes = new TextEncoder().encode(text);
  const out = new Uint8Array(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const hex = String.fromCharCode(bytes[i + 1] ?? 0, bytes[i + 2] ?? 0);
    if (bytes[i] === 0x25 && /^[0-9a-fA-F]{2}$/.test(hex)) {
      out[n++] = parseInt(hex, 16);
      i += 2;
    } else {
      out[n++] = bytes[i];
    }
  }
  return new TextDecoder().decode(out.subarray(0, n));
}

/**
 * The object key RGW ran the operation on, "" for bucket requests. RGW
 * decodes the whole path, then (path style) the first segment is the bucket:
 * `/b%2Fx/k` is bucket `b`, key `x/k`. Virtual-host requests carry only the key.
 */
export function entryObject(entry: OpsLogEntry, style: "path" | "virtual"): string {
  const decoded = rgwDecode(parseEntryUri(entry.uri).rawPath).replace(/^\//, "");
  if (style === "virtual") return decoded;
  const slash = decoded.indexOf("/");
  return slash < 0 ? "" : decoded.slice(slash + 1);
}

/** The entry's query parameters, decoded, in order (a bare name has value ""). */
export function entryQuery(entry: OpsLogEntry): [string, string][] {
  const raw = parseEntryUri(entry.uri).rawQuery;
  if (raw === "") return [];
  return raw.split("&").filter((p) => p !== "").map((p) => {
    const eq = p.indexOf("=");
    const name = eq < 0 ? p : p.slice(0, eq);
    const value = eq < 0 ? "" : p.slice(eq + 1);
    return [rgwDecode(name, { plusIsSpace: true }), rgwDecode(value, { plusIsSpace: true })];
  });
}

/** Entries grouped by user agent, in log order. */
export function byUserAgent(entries: readonly OpsLogEntry[]): Map<string, OpsLogEntry[]> {
  const out = new Map<string, OpsLogEntry[]>();
  for (const e of entries) {
    const list = out.get(e.user_agent);
    if (list === undefined) out.set(e.user_agent, [e]);
    else list.push(e);
  }
  return out;
}

/**
 * The complete top-level JSON objects in `text`, in order, whatever separates
 * them (newline or nothing); a partly written last object is left out.
 */
export function splitJsonObjects(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if (c === "{") {
      if (depth++ === 0) start = i;
    } else if (c === "}" && --depth === 0) {
      out.push(text.slice(start, i + 1));
    }
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A reader of one ops-log file: marks and the entries appended after them. */
export class OpsLog {
  constructor(readonly path: string) {}

  /** The current end of the log, to read what comes after it with {@linkcode OpsLog.since}. */
  async mark(): Promise<number> {
    try {
      return (await Deno.stat(this.path)).size;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return 0; // RGW creates it with the first entry
      throw e;
    }
  }

  /** The complete entries appended since `mark` (a partly written last one is left for later). */
  async since(mark: number): Promise<OpsLogEntry[]> {
    let bytes: Uint8Array;
    try {
      using file = await Deno.open(this.path);
      await file.seek(mark, Deno.SeekMode.Start);
      bytes = new Uint8Array(await new Response(file.readable).arrayBuffer());
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return [];
      throw e;
    }
    return splitJsonObjects(new TextDecoder().decode(bytes)).map((text) => {
      try {
        return JSON.parse(text) as OpsLogEntry;
      } catch {
        throw new Error(`not a JSON ops-log entry in ${this.path}: ${text}`);
      }
    });
  }

  /** Polls (every 10 ms, up to `timeoutMs`) until `done` holds for the entries since `mark`. */
  async waitFor(
    mark: number,
    done: (entries: OpsLogEntry[]) => boolean,
    timeoutMs = 2000,
  ): Promise<OpsLogEntry[]> {
    const deadline = Date.now() + timeoutMs;
    let entries = await this.since(mark);
    while (!done(entries) && Date.now() < deadline) {
      await sleep(10);
      entries = await this.since(mark);
    }
    return entries;
  }

  /** The entries with this user agent since `mark`, waiting up to `timeoutMs` for the first one. */
  async forUserAgent(mark: number, userAgent: string, timeoutMs = 2000): Promise<OpsLogEntry[]> {
    const entries = await this.waitFor(
      mark,
      (list) => list.some((e) => e.user_agent === userAgent),
      timeoutMs,
    );
    return entries.filter((e) => e.user_agent === userAgent);
  }

  /**
   * Sends RGW (at `endpoint`) an anonymous HEAD to a bucket that does not
   * exist and waits for its entry: RGW writes entries in the order requests
   * finish, so every request finished before this is in the log afterwards.
   * Returns the entries since `mark`, the barrier's own left out.
   */
  async barrier(mark: number, endpoint: string, timeoutMs = 2000): Promise<OpsLogEntry[]> {
    const ua = `ops-log-barrier/${crypto.randomUUID()}`;
    const res = await fetch(`${endpoint}/ops-log-barrier-${crypto.randomUUID().slice(0, 8)}`, {
      method: "HEAD",
      headers: { "user-agent": ua },
    });
    await res.body?.cancel();
    const entries = await this.waitFor(mark, (l) => l.some((e) => e.user_agent === ua), timeoutMs);
    if (!entries.some((e) => e.user_agent === ua)) {
      throw new Error(`the ops-log barrier did not show up in ${this.path} within ${timeoutMs} ms`);
    }
    return entries.filter((e) => e.user_agent !== ua);
  }
}
