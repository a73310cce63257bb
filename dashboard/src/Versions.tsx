// Every version of every operator that went live, and the buttons that
// put a new one live (optionally behind a canary) or the one before back.

import { useState } from "preact/hooks";
import { base64Of, postJson } from "./api";
import { short, time } from "./format";
import type { OperatorStatus } from "./types";

interface Swapped {
  epoch: number;
  digest: string;
  canary: string | null;
}

export function Versions({ job, operators }: { job: string; operators: OperatorStatus[] }) {
  if (operators.length === 0) return <p class="empty">This job runs no Wasm operators.</p>;
  return (
    <div class="versions">
      {operators.map((op) => (
        <OperatorVersions key={op.name} job={job} op={op} />
      ))}
    </div>
  );
}

function OperatorVersions({ job, op }: { job: string; op: OperatorStatus }) {
  const [file, setFile] = useState<File | null>(null);
  const [canary, setCanary] = useState(false);
  const [records, setRecords] = useState(1000);
  const [busy, setBusy] = useState<string | null>(null);
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const path = `/v1/jobs/${encodeURIComponent(job)}`;
  const run = async (what: string, f: () => Promise<Swapped>) => {
    setBusy(what);
    setResult(null);
    try {
      const s = await f();
      setResult({
        ok: true,
        text: `${short(s.digest)} is live after checkpoint ${s.epoch}${s.canary ? ` — canary: ${s.canary}` : ""}`,
      });
    } catch (e) {
      setResult({ ok: false, text: (e as Error).message });
    } finally {
      setBusy(null);
    }
  };
  const swap = () =>
    run(canary ? "canary running…" : "swapping…", async () =>
      postJson<Swapped>(`${path}/swap`, {
        operator: op.name,
        component: await base64Of(file!),
        canary: canary ? { records, max_error_rate: 0.01 } : undefined,
      }),
    );
  const rollback = () =>
    run("rolling back…", () => postJson<Swapped>(`${path}/rollback`, { operator: op.name }));
  return (
    <section class="operator" data-operator={op.name}>
      <h3>
        {op.name} <span class="digest" data-testid="live-digest">{short(op.digest)}</span>
      </h3>
      <ol class="timeline">
        {op.versions.map((v, i) => (
          <li key={i} class={i === op.versions.length - 1 ? "live" : ""}>
            <span class="digest">{short(v.digest)}</span> {v.origin}
            {v.after_epoch != null && ` after checkpoint ${v.after_epoch}`} · {time(v.at_ms)}
            {i === op.versions.length - 1 && <strong> live</strong>}
          </li>
        ))}
      </ol>
      <div class="swap">
        <label>
          new version (.wasm){" "}
          <input
            type="file"
            accept=".wasm"
            data-testid="swap-file"
            onChange={(e) => setFile((e.currentTarget as HTMLInputElement).files?.[0] ?? null)}
          />
        </label>
        <label>
          <input
            type="checkbox"
            data-testid="swap-canary"
            checked={canary}
            onChange={(e) => setCanary((e.currentTarget as HTMLInputElement).checked)}
          />{" "}
          canary first, over
        </label>
        <input
          type="number"
          min={1}
          value={records}
          disabled={!canary}
          onChange={(e) => setRecords(Number((e.currentTarget as HTMLInputElement).value))}
        />{" "}
        records
        <button disabled={!file || busy != null} onClick={swap} data-testid="swap">
          swap
        </button>
        <button disabled={op.versions.length < 2 || busy != null} onClick={rollback} data-testid="rollback">
          roll back
        </button>
      </div>
      {busy && <p class="pending" data-testid="swap-pending">{busy}</p>}
      {result && (
        <p class={result.ok ? "ok" : "error"} data-testid="swap-result">
          {result.text}
        </p>
      )}
    </section>
  );
}
