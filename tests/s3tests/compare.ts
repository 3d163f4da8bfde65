// Reading s3-tests' junit XML and naming why a test that passes directly
// against RGW does not pass through osp (used by tests/s3tests/run.ts).

export interface Outcome {
  status: "passed" | "failed" | "error" | "skipped" | "missing";
  /** the failure's message attribute, then its text (traceback) */
  message: string;
}

function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp|#(\d+)|#x([0-9a-fA-F]+));/g, (_, e, dec, hex) => {
    if (dec) return String.fromCodePoint(Number(dec));
    if (hex) return String.fromCodePoint(parseInt(hex, 16));
    return { lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" }[e as string]!;
  });
}

function attr(attrs: string, name: string): string | undefined {
  const m = new RegExp(`\\b${name}="([^"]*)"`).exec(attrs);
  return m ? unescapeXml(m[1]) : undefined;
}

/** test name (`test_s3.py::test_x`) → outcome, from a pytest --junitxml file */
export function parseJunit(xml: string): Map<string, Outcome> {
  const out = new Map<string, Outcome>();
  const re = /<testcase\b([^>]*?)(?:\/>|>([\s\S]*?)<\/testcase>)/g;
  for (const m of xml.matchAll(re)) {
    const attrs = m[1], body = m[2] ?? "";
    const file = (attr(attrs, "classname") ?? "").split(".").at(-1);
    const name = `${file}.py::${attr(attrs, "name")}`;
    const f = /<(failure|error|skipped)\b([^>]*?)(?:\/>|>([\s\S]*?)<\/\1>)/.exec(body);
    if (!f) {
      out.set(name, { status: "passed", message: "" });
      continue;
    }
    const status = f[1] === "failure" ? "failed" : f[1] as "error" | "skipped";
    out.set(name, {
      status,
      message: `${attr(f[2], "message") ?? ""}\n${unescapeXml(f[3] ?? "")}`,
    });
  }
  return out;
}

export interface Cause {
  /** group key; ids starting with "bug" are osp bugs */
  id: string;
  title: string;
  reason: string;
  /** a short per-test note (e.g. the status codes) */
  detail?: string;
}

interface Rule {
  id: string;
  title: string;
  reason: string;
  /** a test name pattern, a message pattern, or both (both must match) */
  name?: RegExp;
  message?: RegExp;
}

/**
 * Causes, most specific first. Each was read off the failure messages of a
 * real run (see docs/s3-tests.md for the latest).
 */
const RULES: Rule[] = [
  {
    id: "anonymous",
    title: "Anonymous requests osp refuses",
    reason:
      "The run opens every operation osp can open to anonymous callers, sent to RGW unsigned " +
      '(`anonymousAs: "anonymous"`), so RGW\'s public ACLs decide; these tests send an unsigned ' +
      "request osp refuses before RGW sees it, whatever the bucket's ACL. A form POST without " +
      "credentials nor policy with an `acl` (or `tagging`) field: it becomes a PUT with `x-amz-acl` " +
      "(`x-amz-tagging`), and osp lets no anonymous request carry an `x-amz-*` header that changes " +
      "what the backend does. `test_post_object_success_redirect_action` uploads with a SigV2 form, " +
      "then follows the 303 to `/bucket?bucket=…&key=…&etag=…` without credentials: query words osp " +
      "cannot name make the request `Unknown`, never open to anonymous callers (RGW ignores them and " +
      "lists the bucket). `GET /` without credentials: osp answers ListBuckets itself, for the " +
      "caller's backend identity, and an anonymous caller has none (RGW lists nothing). Expected.",
    name: new RegExp(
      "^test_post_object_(anonymous_request|set_success_code|set_invalid_success_code|" +
        "success_redirect_action|tags_anonymous_request)$|^test_list_buckets_anonymous$",
    ),
  },
  {
    id: "anonymous",
    title: "",
    reason: "",
    message: /Anonymous requests are not allowed|Anonymous requests may not carry/,
  },
  {
    id: "cors-request-method",
    title: "CORS: RGW reads Access-Control-Request-Method outside a preflight",
    reason:
      "An actual (non-`OPTIONS`) request that carries `Access-Control-Request-Method`: RGW matches its " +
      "CORS rules on that header's method, as for a preflight (a PUT with `Access-Control-Request-Method: " +
      "GET` gets the allow headers of a GET rule). osp matches an actual request by its own method, as " +
      "the CORS protocol does, so a PUT that no rule allows for its origin gets no " +
      "`Access-Control-Allow-Origin`. The status (RGW's own 403) is the same. Expected.",
    name: /^test_cors_origin_response$/,
  },
  {
    id: "rgw-ext",
    title: "RGW's own extensions: usage, read-stats, allow-unordered",
    reason:
      "Not S3 (each test is marked `fails_on_aws`). `GET /?usage` (RGW's account usage) is not " +
      "forwarded: osp answers `GET /` itself, as ListBuckets from its routes and the backend's " +
      "listing, and refuses other queries on it (405 MethodNotAllowed). `HEAD /bucket?read-stats=true` and " +
      "`GET /bucket?allow-unordered=true` carry a query word osp cannot name, so the request is " +
      "`Unknown` and refused with 501 NotImplemented without a validator (a validator could not " +
      "know what it allows). Expected. With a validator that allows everything " +
      "(`deno task s3tests --validator-yes`) the four query-word tests pass; `test_account_usage` " +
      "still fails.",
    name:
      /^test_(account_usage|head_bucket_usage|bucket_head_extended|bucket_list_unordered|bucket_listv2_unordered)$/,
  },
  {
    id: "tenant",
    title: "RGW tenants",
    reason:
      "`tenant:bucket` names another tenant's bucket on RGW; it is not a valid S3 bucket name and osp " +
      'refuses it (400 InvalidBucketName). With `cors: "backend"` osp reads a bucket\'s CORS ' +
      "configuration with the route's static identity (here the main user), and on RGW that " +
      "identity's bucket of that name is in another tenant than the tenant user's: the preflight " +
      "finds no rule (403). Expected: a multi-tenant RGW needs a route per tenant, with that tenant's " +
      "static identity, for backend CORS.",
    name: /tenant/,
  },
  {
    id: "continue",
    title: "Expect: 100-continue",
    reason:
      "Deno's HTTP server answers `100 Continue` before any handler runs, so osp cannot refuse an " +
      "unauthenticated `Expect: 100-continue` PUT before its body is sent (the test expects a 403 " +
      "in place of the 100). osp still refuses the request once it has it. Expected.",
    name: /^test_100_continue$/,
  },
  {
    id: "codes",
    title: "Error codes: osp answers as AWS where RGW differs",
    reason:
      "Both refuse the request, with another status or code. A presigned URL valid for more than " +
      "7 days (`X-Amz-Expires` 609901) is 400 AuthorizationQueryParametersError on AWS and osp, 403 " +
      "on RGW. A SigV2 request dated 1950 is 403 RequestTimeTooSkewed from osp (as for any date out " +
      "of the allowed skew, and as s3-tests expects of one dated 2010); RGW says 403 AccessDenied. " +
      "Expected.",
    name: /^test_object_raw_get_x_amz_expires_out_max_range$|_date_before_epoch_aws2$/,
  },
];

/** A short summary of the assertion, e.g. "403 != 200" or "AccessDenied". */
function detail(message: string): string | undefined {
  const first = message.split("\n")[0].trim();
  const m = /^(?:AssertionError: )?assert (.*)$/.exec(first) ??
    /^([\w.]+(?:Error|Exception)): (.*)$/.exec(first);
  const s = m ? (m[2] ?? m[1]) : first;
  return s ? s.replace(/\s+/g, " ").slice(0, 160).replaceAll("`", "'") : undefined;
}

export function classify(name: string, outcome: Outcome): Cause {
  const short = name.split("::").at(-1)!;
  for (const r of RULES) {
    if (r.name && !r.name.test(short)) continue;
    if (r.message && !r.message.test(outcome.message)) continue;
    const named = RULES.find((x) => x.id === r.id && x.title)!;
    return {
      id: r.id,
      title: named.title,
      reason: named.reason,
      detail: detail(outcome.message),
    };
  }
  return {
    id: "bug?unclassified",
    title: "Not classified yet",
    reason: "No cause in tests/s3tests/compare.ts matches these failures: read them and add one.",
    detail: `${outcome.status}: ${detail(outcome.message) ?? ""}`,
  };
}

/** Why a test passes through osp but not directly, where known. */
export const GAINED_NOTES: Record<string, string> = {
  test_expected_bucket_owner:
    "expects an anonymous ListObjects with a wrong `ExpectedBucketOwner` to fail: RGW 16.2 " +
    "lists the public bucket anyway; osp refuses an anonymous request carrying " +
    "`x-amz-expected-bucket-owner` (an `x-amz-*` header that changes what the backend does)",
};
