/**
 * The three Prometheus metric types osp records (counter, gauge, histogram)
 * and the text exposition format, written for osp instead of importing
 * prom-client: importing it added 6 MiB to the idle RSS of every osp process
 * (docs/performance.md, "Idle memory"), for these few lines.
 *
 * A family's series are keyed by their label values joined with NUL, which no
 * label value osp records contains (operation names, configured bucket names,
 * status numbers, S3 error codes, fixed words).
 *
 * @module
 */

/** How the series of several isolates merge into one: summed, the largest, or the first. */
export type Aggregator = "sum" | "max" | "first";

/** One sample line: its full name (with `_bucket`, `_sum`, `_count` for histograms), labels, value. */
export interface Sample {
  /** Sample name, e.g. `osp_request_duration_seconds_bucket`. */
  name: string;
  /** The labels as they render between the braces (`a="x",b="y"`, escaped), or empty. */
  labels: string;
  /** The value. */
  value: number;
}

/** One metric family as plain, structured-cloneable data: what an isolate sends to be merged. */
export interface FamilySnapshot {
  /** Metric name. */
  name: string;
  /** `# HELP` text. */
  help: string;
  /** `# TYPE`. */
  type: "counter" | "gauge" | "histogram";
  /** How {@linkcode renderFamilies} merges this family's samples across snapshots. */
  aggregator: Aggregator;
  /** The samples, in rendering order. */
  samples: Sample[];
}

/** What every family is made with. */
export interface FamilyOptions {
  /** Metric name. */
  name: string;
  /** `# HELP` text. */
  help: string;
  /** Label names, in the order values are passed and rendered; default none. */
  labelNames?: readonly string[];
  /** How isolates' samples merge; default `sum`. */
  aggregator?: Aggregator;
}

const SEPARATOR = "\u0000";

/** Common part of the three types: a name, help, label names, series by label values. */
abstract class Family<T> {
  readonly #options: FamilyOptions;
  readonly #series = new Map<string, { values: readonly string[]; state: T }>();

  constructor(options: FamilyOptions) {
    this.#options = options;
  }

  /** The state of the series with these label values, created by `fresh` on first use. */
  protected series(values: readonly string[], fresh: () => T): T {
    const key = values.join(SEPARATOR);
    let found = this.#series.get(key);
    if (found === undefined) {
      found = { values, state: fresh() };
      this.#series.set(key, found);
    }
    return found.state;
  }

  /** The labels of `values` as they render between the braces. */
  protected labels(values: readonly string[]): string {
    const names = this.#options.labelNames ?? [];
    return names.map((n, i) => `${n}="${escapeLabel(values[i])}"`).join(",");
  }

  /** The samples of one series. */
  protected abstract samples(values: readonly string[], state: T): Sample[];

  /** The type shown in `# TYPE`. */
  protected abstract readonly type: FamilySnapshot["type"];

  /** This family as plain data. */
  snapshot(): FamilySnapshot {
    const { name, help, aggregator = "sum" } = this.#options;
    const samples = [...this.#series.values()].flatMap((s) => this.samples(s.values, s.state));
    return { name, help, type: this.type, aggregator, samples };
  }

  /** The metric name. */
  protected get name(): string {
    return this.#options.name;
  }
}

/** A counter: series only go up. */
export class Counter extends Family<{ value: number }> {
  protected readonly type = "counter";

  /** Adds `amount` (default 1) to the series with these label values; 0 creates it. */
  inc(values: readonly string[] = [], amount = 1): void {
    this.series(values, () => ({ value: 0 })).value += amount;
  }

  protected samples(values: readonly string[], state: { value: number }): Sample[] {
    return [{ name: this.name, labels: this.labels(values), value: state.value }];
  }
}

/** A gauge: series are set, or read from `collect` at every snapshot when there is one. */
export class Gauge extends Family<{ value: number }> {
  protected readonly type = "gauge";
  readonly #collect?: () => number;

  /** A gauge; `collect` makes it one unlabelled series read at each snapshot. */
  constructor(options: FamilyOptions & { collect?: () => number }) {
    super(options);
    this.#collect = options.collect;
  }

  /** Sets the series with these label values. */
  set(values: readonly string[], value: number): void {
    this.series(values, () => ({ value: 0 })).value = value;
  }

  override snapshot(): FamilySnapshot {
    if (this.#collect) this.set([], this.#collect());
    return super.snapshot();
  }

  protected samples(values: readonly string[], state: { value: number }): Sample[] {
    return [{ name: this.name, labels: this.labels(values), value: state.value }];
  }
}

interface HistogramState {
  /** Observations per bucket, not cumulative; the last slot is above every bound. */
  counts: number[];
  sum: number;
}

/** A histogram with fixed upper bounds (ascending); `+Inf` is added. */
export class Histogram extends Family<HistogramState> {
  protected readonly type = "histogram";
  readonly #bounds: readonly number[];

  /** A histogram over `buckets`, the ascending upper bounds. */
  constructor(options: FamilyOptions & { buckets: readonly number[] }) {
    super(options);
    this.#bounds = options.buckets;
  }

  /** Records one observation in the series with these label values. */
  observe(values: readonly string[], value: number): void {
    const bounds = this.#bounds;
    const state = this.series(
      values,
      () => ({ counts: new Array(bounds.length + 1).fill(0), sum: 0 }),
    );
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    state.counts[i]++;
    state.sum += value;
  }

  protected samples(values: readonly string[], state: HistogramState): Sample[] {
    const labels = this.labels(values);
    const rest = labels === "" ? "" : `,${labels}`;
    const out: Sample[] = [];
    let total = 0;
    state.counts.forEach((n, i) => {
      total += n;
      const le = i < this.#bounds.length ? String(this.#bounds[i]) : "+Inf";
      out.push({ name: `${this.name}_bucket`, labels: `le="${le}"${rest}`, value: total });
    });
    out.push({ name: `${this.name}_sum`, labels, value: state.sum });
    out.push({ name: `${this.name}_count`, labels, value: total });
    return out;
  }
}

/** `\`, `"` and newlines escaped, as label values need. */
function escapeLabel(value: string): string {
  if (!/[\\"\n]/.test(value)) return value;
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** One sample line. */
function sampleLine(s: Sample): string {
  const labels = s.labels;
  const value = Number.isFinite(s.value)
    ? String(s.value)
    : s.value > 0
    ? "+Inf"
    : s.value < 0
    ? "-Inf"
    : "NaN";
  return `${s.name}${labels === "" ? "" : `{${labels}}`} ${value}\n`;
}

/** Merges the same family from several snapshots, by its aggregator. */
function merge(families: FamilySnapshot[]): FamilySnapshot {
  const { aggregator } = families[0];
  const byKey = new Map<string, Sample>();
  for (const family of families) {
    for (const s of family.samples) {
      const key = `${s.name}{${s.labels}}`;
      const seen = byKey.get(key);
      if (seen === undefined) byKey.set(key, { ...s });
      else if (aggregator === "sum") seen.value += s.value;
      else if (aggregator === "max") seen.value = Math.max(seen.value, s.value);
    }
  }
  return { ...families[0], samples: [...byKey.values()] };
}

/**
 * Renders families in the Prometheus text exposition format (version 0.0.4),
 * merging the families of the same name across `snapshots` (several isolates)
 * by their aggregator.
 */
export function renderFamilies(snapshots: FamilySnapshot[][]): string {
  const byName = new Map<string, FamilySnapshot[]>();
  for (const family of snapshots.flat()) {
    byName.set(family.name, [...(byName.get(family.name) ?? []), family]);
  }
  let text = "";
  for (const families of byName.values()) {
    const family = merge(families);
    text += `# HELP ${family.name} ${family.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}\n`;
    text += `# TYPE ${family.name} ${family.type}\n`;
    for (const s of family.samples) text += sampleLine(s);
  }
  return text;
}

/** The content type of {@linkcode renderFamilies}'s output. */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
