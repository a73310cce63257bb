// Rates from the stream's counters: each snapshot's counters against the
// one before, kept for the last 15 minutes (the charts' span).

import type { JobStatus, Latency, Sample, Snapshot, StageStatus } from "./types";

export const SPAN_MS = 15 * 60 * 1000;

/** One point of a job's chart. */
export interface Point {
  t: number; // s since the epoch
  in: number; // records/s read
  out: number; // records/s written
  lag: number | null; // watermark lag, s
  p50: number | null; // end-to-end latency of the rows since the point before, ms
  p99: number | null;
}

/**
 * The bound under which a share `q` of the rows between two histograms
 * fall (an upper estimate), ms; null without rows or past the last bound.
 */
export function quantileMs(before: Latency | null, after: Latency | null, q: number): number | null {
  if (!after) return null;
  const base = before && before.count <= after.count ? before.cumulative : after.cumulative.map(() => 0);
  const delta = after.cumulative.map((c, i) => c - base[i]);
  const total = delta[delta.length - 1];
  if (total <= 0) return null;
  const want = Math.max(1, Math.ceil(q * total));
  const i = delta.findIndex((c) => c >= want);
  return i >= 0 && i < after.bounds_s.length ? after.bounds_s[i] * 1000 : null;
}

/** A stage's shares of its subtasks' time and its rates, between two snapshots. */
export interface StageRates {
  in: number;
  out: number;
  busy: number;
  idle: number;
  backpressure: number;
}

export class History {
  private points = new Map<string, Point[]>();
  private lastLatency = new Map<string, Latency | null>();
  private lastStages = new Map<string, { t: number; stages: Map<string, StageStatus> }>();
  private stageRates = new Map<string, Map<string, StageRates>>();

  add(s: Snapshot) {
    for (const j of s.jobs) this.addJob(j, s.time_ms);
    if (s.job?.detail) this.addStages(s.job, s.time_ms);
  }

  private addJob(j: JobStatus, now: number) {
    const list = this.points.get(j.id) ?? [];
    const before = this.lastLatency.get(j.id) ?? null;
    this.lastLatency.set(j.id, j.latency);
    list.push({
      t: now / 1000,
      in: j.state === "running" ? j.rate_in : 0,
      out: j.state === "running" ? j.rate_out : 0,
      lag: j.watermark_lag_ms == null ? null : j.watermark_lag_ms / 1000,
      p50: quantileMs(before, j.latency, 0.5),
      p99: quantileMs(before, j.latency, 0.99),
    });
    while (list.length > 0 && list[0].t < (now - SPAN_MS) / 1000) list.shift();
    this.points.set(j.id, list);
  }

  private addStages(j: JobStatus, now: number) {
    const detail = j.detail!;
    const before = this.lastStages.get(j.id);
    const current = new Map(detail.stages.map((s) => [s.name, s]));
    if (before && now > before.t) {
      const dt = (now - before.t) / 1000;
      const rates = new Map<string, StageRates>();
      for (const st of detail.graph.stages) {
        const a = before.stages.get(st.name);
        const b = current.get(st.name);
        if (!a || !b) continue;
        const wall = dt * 1000 * Math.max(1, st.parallelism);
        rates.set(st.name, {
          in: Math.max(0, b.records_in - a.records_in) / dt,
          out: Math.max(0, b.records_out - a.records_out) / dt,
          busy: (b.busy_ms - a.busy_ms) / wall,
          idle: (b.idle_ms - a.idle_ms) / wall,
          backpressure: (b.backpressure_ms - a.backpressure_ms) / wall,
        });
      }
      this.stageRates.set(j.id, rates);
    }
    this.lastStages.set(j.id, { t: now, stages: current });
  }

  /** Start a job's chart with the host's samples of it (once). */
  seed(job: string, samples: Sample[]) {
    const mine = this.points.get(job) ?? [];
    const first = mine.length > 0 ? mine[0].t : Infinity;
    const older: Point[] = samples
      .filter((s) => s.at_ms / 1000 < first)
      .map((s) => ({
        t: s.at_ms / 1000,
        in: s.rate_in,
        out: s.rate_out,
        lag: s.watermark_lag_ms == null ? null : s.watermark_lag_ms / 1000,
        p50: s.latency_p50_ms,
        p99: s.latency_p99_ms,
      }));
    this.points.set(job, [...older, ...mine]);
  }

  of(job: string): Point[] {
    return this.points.get(job) ?? [];
  }

  stages(job: string): Map<string, StageRates> {
    return this.stageRates.get(job) ?? new Map();
  }
}
