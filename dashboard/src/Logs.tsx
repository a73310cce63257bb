// The tail of a job's log, filtered by level and by who wrote the line
// (the host, or a guest operator).

import { useEffect, useState } from "preact/hooks";
import { getText } from "./api";

const LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"];

export function Logs({ job, operators, tick }: { job: string; operators: string[]; tick: number }) {
  const [lines, setLines] = useState<string[]>([]);
  const [level, setLevel] = useState("INFO");
  const [who, setWho] = useState("all");
  const [operator, setOperator] = useState("");
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    // Every few seconds of the stream.
    if (tick % 3 !== 0 && lines.length > 0) return;
    getText(`/v1/jobs/${encodeURIComponent(job)}/logs?tail=500`)
      .then((t) => {
        setLines(t.split("\n").filter((l) => l.length > 0));
        setError(null);
      })
      .catch((e: Error) => setError(e.message));
  }, [job, tick]);
  const min = LEVELS.indexOf(level);
  const shown = lines.filter((l) => {
    const parts = l.split(" ");
    const lv = LEVELS.indexOf(parts[1] ?? "");
    if (lv >= 0 && lv < min) return false;
    if (who !== "all" && parts[2] !== who) return false;
    if (operator !== "" && !l.includes(`operator=${operator}`) && !l.includes(`operator="${operator}"`)) return false;
    return text === "" || l.includes(text);
  });
  return (
    <div class="logs">
      <div class="filters">
        <select value={level} onChange={(e) => setLevel((e.currentTarget as HTMLSelectElement).value)}>
          {LEVELS.map((l) => (
            <option key={l} value={l}>
              {l} and above
            </option>
          ))}
        </select>
        <select value={who} onChange={(e) => setWho((e.currentTarget as HTMLSelectElement).value)}>
          <option value="all">host and guests</option>
          <option value="host">host</option>
          <option value="guest">guests</option>
        </select>
        <select value={operator} onChange={(e) => setOperator((e.currentTarget as HTMLSelectElement).value)}>
          <option value="">every operator</option>
          {operators.map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
        <input
          placeholder="contains…"
          value={text}
          onInput={(e) => setText((e.currentTarget as HTMLInputElement).value)}
        />
      </div>
      {error && <p class="error">{error}</p>}
      <pre data-testid="logs">
        {shown.map((l, i) => (
          <div key={i} class={l.split(" ")[2] === "guest" ? "guest" : ""}>
            {l}
          </div>
        ))}
      </pre>
    </div>
  );
}
