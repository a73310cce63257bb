// Every version of every operator that went live, and the buttons that
// put a new one live (optionally behind a canary) or the one before back.

import { useState } from "preact/hooks";
import { base64Of, postJson } from "./api";
import { short, time } from "./format";
import type { CanaryStatus, OperatorStatus } from "./types";

interface Swapped {
  epoch: number;
  digest: string;
  canary: string | null;
}

export function Versions({
  job,
  operators,
  canary,
}: {
  job: string;
  operators: OperatorStatus[];
  canary: CanaryStatus | null;
}) {
  if (operators.length === 0) return <p class="empty">This job runs no Wasm operators.</p>;
  return (
    <div class="versions">
      {operators.map((op) => (
        <OperatorVersions key={op.name} job={job} op={op} canary={canary?.operator === op.name ? canary : null} />
      ))}
    </div>
  );
}

function CanaryProgress({ c }: { c: CanaryStatus }) {
  const byRecords = c.target_records > 0 ? c.records / c.target_records : 0;
  const byTime = c.duration_ms ? c.elapsed_ms / c.duration_ms : 0;
  const share = Math.min(1, Math.max(byRecords, byTime));
  return (
    <div class="canary" data-testid="canary-progress">
      canary {short(c.digest)}: {c.records}
      {c.target_records > 0 ? ` of ${c.target_records}` : ""} records, {c.errors} rejected,{" "}
      {c.differing_batches} of {c.batches} batches differ from the live version's
      <div class="bar">
        <div class="fill" style={{ width: `${share * 100}%`, background: c.errors > 0 ? "#f59e0b" : "#60a5fa" }} />
      </div>
    </div>
  );
}

function OperatorVersions({ job, op, canary }: { job: string; op: OperatorStatus; canary: CanaryStatus | null }) {
  const [file, setFile] = useState<File | null>(null);
  const [withCanary, setWithCanary] = useState(false);
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
    run(withCanary ? "canary running…" : "swapping…", async () =>
      postJson<Swapped>(`${path}/swap`, {
        operator: op.name,
        component: await base64Of(file!),
        canary: withCanary ? { records, max_error_rate: 0.01 } : undefined,
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
            checked={withCanary}
            onChange={(e) => setWithCanary((e.currentTarget as HTMLInputElement).checked)}
          />{" "}
          canary first, over
        </label>
        <input
          type="number"
          min={1}
          value={records}
          disabled={!withCanary}
          // `onInput`, not `onChange` (Preact's is the DOM's `change`, which
          // fires only when the field loses focus): the page re-renders on
          // every status update, and a number typed but not yet committed
          // was put back to the old one, so the canary ran over 1000.
          onInput={(e) => setRecords(Number((e.currentTarget as HTMLInputElement).value))}
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
      {canary && <CanaryProgress c={canary} />}
      {result && (
        <p class={result.ok ? "ok" : "error"} data-testid="swap-result">
          {result.text}
        </p>
      )}
    </section>
  );
}
