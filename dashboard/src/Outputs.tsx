// The job's file outputs: the first lines of what its sinks, dead-letter
// and late outputs committed (`GET /v1/jobs/{id}/output`, read up to
// 64 KiB: an output may be far larger than a page should hold).

import { useState } from "preact/hooks";
import { token } from "./api";

const MAX = 64 << 10;
const NAMES = ["sink", "dead_letter", "late_output"];

export function Outputs({ job }: { job: string }) {
  const [name, setName] = useState<string | null>(null);
  const [text, setText] = useState("");
  const [note, setNote] = useState<string | null>(null);
  const load = async (n: string) => {
    setName(n);
    setText("");
    setNote("loading…");
    const r = await fetch(`/v1/jobs/${encodeURIComponent(job)}/output?name=${n}`, {
      headers: { Authorization: `Bearer ${token() ?? ""}` },
    });
    if (!r.ok) {
      const body = await r.json().catch(() => ({ error: r.statusText }));
      setNote(body.error ?? r.statusText);
      return;
    }
    const reader = r.body!.getReader();
    const chunks: Uint8Array[] = [];
    let got = 0;
    while (got < MAX) {
      const { value, done } = await reader.read();
      if (done) break;
      chunks.push(value);
      got += value.length;
    }
    const more = got >= MAX;
    if (more) await reader.cancel();
    const all = new Uint8Array(Math.min(got, MAX));
    let at = 0;
    for (const c of chunks) {
      const part = c.subarray(0, Math.min(c.length, all.length - at));
      all.set(part, at);
      at += part.length;
    }
    const lines = new TextDecoder().decode(all).split("\n");
    if (more) lines.pop(); // cut mid-line
    setText(lines.join("\n"));
    setNote(more ? `the first ${lines.length} lines (64 KiB); \`weir output ${job} --name ${n}\` reads it all` : null);
  };
  return (
    <div class="outputs">
      {NAMES.map((n) => (
        <button key={n} onClick={() => load(n)} data-testid={`output-${n}`} class={n === name ? "on" : ""}>
          {n}
        </button>
      ))}
      {note && <p class="empty">{note}</p>}
      {text && <pre data-testid="output">{text}</pre>}
    </div>
  );
}
