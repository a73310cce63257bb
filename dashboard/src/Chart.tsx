// The last 15 minutes of a job's rates and watermark lag, and of its
// end-to-end latency; the host's and each tenant's CPU and the host's
// memory for the admin (uPlot).

import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { Point } from "./history";

function useChart(opts: uPlot.Options, data: uPlot.AlignedData) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    plot.current = new uPlot(opts, data, box.current!);
    return () => plot.current?.destroy();
  }, []);
  useEffect(() => {
    plot.current?.setData(data);
  });
  return box;
}

export function RateChart({ points }: { points: Point[] }) {
  const box = useChart(
    {
      width: 720,
      height: 200,
      series: [
        {},
        { label: "in (records/s)", stroke: "#2563eb", width: 2 },
        { label: "out (records/s)", stroke: "#16a34a", width: 2 },
        { label: "watermark lag (s)", stroke: "#d97706", width: 1, scale: "lag" },
      ],
      axes: [{}, { label: "records/s", size: 70 }, { side: 1, scale: "lag", label: "lag s", grid: { show: false } }],
      scales: { lag: { auto: true } },
    },
    [points.map((p) => p.t), points.map((p) => p.in), points.map((p) => p.out), points.map((p) => p.lag)],
  );
  return <div class="chart" ref={box} data-testid="rate-chart" />;
}

export function LatencyChart({ points }: { points: Point[] }) {
  const box = useChart(
    {
      width: 720,
      height: 160,
      series: [
        {},
        { label: "p50 (ms, at most)", stroke: "#7c3aed", width: 2 },
        { label: "p99 (ms, at most)", stroke: "#db2777", width: 2 },
      ],
      axes: [{}, { label: "ms", size: 70 }],
    },
    [points.map((p) => p.t), points.map((p) => p.p50), points.map((p) => p.p99)],
  );
  return <div class="chart" ref={box} data-testid="latency-chart" />;
}

/** One sample of the admin view: CPU shares (of all cores) and RSS. */
export interface UsagePoint {
  t: number;
  host: number;
  rss: number;
  tenants: Record<string, number>;
}

export function UsageChart({ tenants, points }: { tenants: string[]; points: UsagePoint[] }) {
  const colors = ["#2563eb", "#16a34a", "#7c3aed", "#db2777", "#0891b2", "#65a30d"];
  const box = useChart(
    {
      width: 720,
      height: 200,
      series: [
        {},
        { label: "host CPU (%)", stroke: "#111827", width: 2 },
        ...tenants.map((name, i) => ({ label: `${name} CPU (%)`, stroke: colors[i % colors.length], width: 1.5 })),
        { label: "RSS (MiB)", stroke: "#d97706", width: 1, scale: "mib" },
      ],
      axes: [{}, { label: "% of cores", size: 60 }, { side: 1, scale: "mib", label: "MiB", grid: { show: false } }],
      scales: { mib: { auto: true } },
    },
    [
      points.map((p) => p.t),
      points.map((p) => p.host * 100),
      ...tenants.map((name) => points.map((p) => (p.tenants[name] ?? 0) * 100)),
      points.map((p) => p.rss / 2 ** 20),
    ],
  );
  return <div class="chart" ref={box} data-testid="usage-chart" />;
}
