// The job graph: sources, stages and sinks laid out by dagre, each stage
// with its rates, its busy and backpressured shares and its watermark.

import dagre from "@dagrejs/dagre";
import type { StageRates } from "./history";
import { ms, percent, rate } from "./format";
import type { Detail } from "./types";

const W = 210;
const H = 96;

interface Box {
  id: string;
  kind: "source" | "stage" | "sink";
  title: string;
  lines: string[];
  heat: number; // 0..1: how busy or backpressured
}

export function JobGraph({
  detail,
  rates,
  now,
}: {
  detail: Detail;
  rates: Map<string, StageRates>;
  now: number;
}) {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "LR", nodesep: 24, ranksep: 56, marginx: 8, marginy: 8 });
  g.setDefaultEdgeLabel(() => ({}));
  const boxes: Box[] = [];
  const counters = new Map(detail.stages.map((s) => [s.name, s]));
  for (const s of detail.graph.sources) {
    boxes.push({ id: `source:${s}`, kind: "source", title: s, lines: ["source"], heat: 0 });
  }
  for (const st of detail.graph.stages) {
    const r = rates.get(st.name);
    const c = counters.get(st.name);
    const wm = c?.watermark;
    boxes.push({
      id: `stage:${st.name}`,
      kind: "stage",
      title: `${st.name} · ${st.kind} ×${st.parallelism}`,
      lines: [
        st.detail.length > 34 ? `${st.detail.slice(0, 33)}…` : st.detail,
        `in ${rate(r?.in)}  out ${rate(r?.out)}`,
        `busy ${percent(r?.busy)}  backpressured ${percent(r?.backpressure)}`,
        `watermark lag ${wm == null ? "–" : ms(Math.max(0, now - wm))}`,
      ],
      heat: Math.max(r?.busy ?? 0, r?.backpressure ?? 0),
    });
  }
  for (const s of detail.graph.sinks) {
    boxes.push({ id: `sink:${s.name}`, kind: "sink", title: s.name, lines: [s.kind], heat: 0 });
  }
  for (const b of boxes) g.setNode(b.id, { width: W, height: b.kind === "stage" ? H : 48 });
  const sources = new Set(detail.graph.sources);
  const edgeLabels = new Map<string, string>();
  for (const st of detail.graph.stages) {
    for (const i of st.inputs) {
      const from = sources.has(i.from) ? `source:${i.from}` : `stage:${i.from}`;
      g.setEdge(from, `stage:${st.name}`);
      if (i.key) edgeLabels.set(`${from}->stage:${st.name}`, `by ${i.key}`);
    }
  }
  for (const s of detail.graph.sinks) g.setEdge(`stage:${s.input}`, `sink:${s.name}`);
  dagre.layout(g);
  const size = g.graph();
  return (
    <svg
      class="graph"
      data-testid="job-graph"
      width={(size.width ?? 0) + 2}
      height={(size.height ?? 0) + 2}
      viewBox={`0 0 ${(size.width ?? 0) + 2} ${(size.height ?? 0) + 2}`}
    >
      <defs>
        <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto">
          <path d="M0,0 L10,5 L0,10 z" fill="#64748b" />
        </marker>
      </defs>
      {g.edges().map((e) => {
        const pts = g.edge(e).points ?? [];
        const d = pts.map((p, i) => `${i ? "L" : "M"}${p.x},${p.y}`).join(" ");
        const label = edgeLabels.get(`${e.v}->${e.w}`);
        const mid = pts[Math.floor(pts.length / 2)];
        return (
          <g key={`${e.v}->${e.w}`}>
            <path d={d} class="edge" marker-end="url(#arrow)" />
            {label && mid && (
              <text x={mid.x} y={mid.y - 4} class="edge-label" text-anchor="middle">
                {label}
              </text>
            )}
          </g>
        );
      })}
      {boxes.map((b) => {
        const n = g.node(b.id);
        const x = n.x - n.width / 2;
        const y = n.y - n.height / 2;
        return (
          <g key={b.id} class={`node ${b.kind}`} data-stage={b.kind === "stage" ? b.title.split(" ·")[0] : undefined}>
            <rect x={x} y={y} width={n.width} height={n.height} rx="6" style={{ fill: heat(b) }} />
            <text x={x + 8} y={y + 17} class="node-title">
              {b.title}
            </text>
            {b.lines.map((l, i) => (
              <text key={i} x={x + 8} y={y + 34 + i * 15} class="node-line">
                {l}
              </text>
            ))}
          </g>
        );
      })}
    </svg>
  );
}

function heat(b: Box): string {
  if (b.kind !== "stage") return "#f1f5f9";
  // white → amber as a stage gets busy or backpressured
  const h = Math.min(1, Math.max(0, b.heat));
  const r = 255;
  const g = Math.round(255 - 80 * h);
  const bl = Math.round(255 - 200 * h);
  return `rgb(${r},${g},${bl})`;
}
