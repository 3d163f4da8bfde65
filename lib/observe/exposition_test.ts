import assert from "node:assert/strict";
import { Counter, Gauge, Histogram, renderFamilies } from "./exposition.ts";

Deno.test("exposition: label values and help are escaped; unlabelled series have no braces", () => {
  const c = new Counter({ name: "x_total", help: "a \\ b\nc", labelNames: ["v"] });
  c.inc(['say "hi"\\\n'], 2);
  const g = new Gauge({ name: "g", help: "h", collect: () => 7 });
  assert.equal(
    renderFamilies([[c.snapshot(), g.snapshot()]]),
    "# HELP x_total a \\\\ b\\nc\n# TYPE x_total counter\n" +
      'x_total{v="say \\"hi\\"\\\\\\n"} 2\n' +
      "# HELP g h\n# TYPE g gauge\ng 7\n",
  );
});

Deno.test("exposition: histograms are cumulative, le first, with +Inf, _sum and _count", () => {
  const h = new Histogram({ name: "h", help: "h", labelNames: ["op"], buckets: [1, 10] });
  h.observe(["a"], 1);
  h.observe(["a"], 5);
  h.observe(["a"], 50);
  assert.equal(
    renderFamilies([[h.snapshot()]]),
    "# HELP h h\n# TYPE h histogram\n" +
      'h_bucket{le="1",op="a"} 1\nh_bucket{le="10",op="a"} 2\nh_bucket{le="+Inf",op="a"} 3\n' +
      'h_sum{op="a"} 56\nh_count{op="a"} 3\n',
  );
});

Deno.test("exposition: snapshots merge by aggregator: sum, max, first", () => {
  const make = (n: number) => {
    const sum = new Counter({ name: "s", help: "s", labelNames: ["k"] });
    sum.inc(["a"], n);
    if (n === 2) sum.inc(["only-second"]);
    const max = new Gauge({ name: "m", help: "m", aggregator: "max" });
    max.set([], n * 10);
    const first = new Gauge({ name: "f", help: "f", labelNames: ["v"], aggregator: "first" });
    first.set([`v${n}`], 1);
    return [sum.snapshot(), max.snapshot(), first.snapshot()];
  };
  const text = renderFamilies([make(1), structuredClone(make(2))]);
  assert.match(text, /^s\{k="a"\} 3$/m);
  assert.match(text, /^s\{k="only-second"\} 1$/m);
  assert.match(text, /^m 20$/m);
  assert.match(text, /^f\{v="v1"\} 1$/m);
  assert.equal(text.match(/^# TYPE s counter$/gm)?.length, 1);
});

Deno.test("exposition: non-finite values render as Prometheus spells them", () => {
  const g = new Gauge({ name: "g", help: "g", labelNames: ["k"] });
  g.set(["p"], Infinity);
  g.set(["n"], -Infinity);
  g.set(["x"], NaN);
  const text = renderFamilies([[g.snapshot()]]);
  assert.match(text, /^g\{k="p"\} \+Inf$/m);
  assert.match(text, /^g\{k="n"\} -Inf$/m);
  assert.match(text, /^g\{k="x"\} NaN$/m);
});
