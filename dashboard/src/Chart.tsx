// The last 15 minutes of a job's rates and watermark lag (uPlot).

import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { Point } from "./history";

export function RateChart({ points }: { points: Point[] }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    const opts: uPlot.Options = {
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
    };
    plot.current = new uPlot(opts, [[], [], [], []], box.current!);
    return () => plot.current?.destroy();
  }, []);
  useEffect(() => {
    plot.current?.setData([
      points.map((p) => p.t),
      points.map((p) => p.in),
      points.map((p) => p.out),
      points.map((p) => p.lag),
    ]);
  }, [points, points.length]);
  return <div class="chart" ref={box} data-testid="rate-chart" />;
}
