// One job: its state, its rates over the last 15 minutes, its graph, its
// checkpoints, its versions (swap and roll back), its log and its budgets.

import { LatencyChart, RateChart } from "./Chart";
import { JobGraph } from "./Graph";
import { Logs } from "./Logs";
import { Outputs } from "./Outputs";
import { Versions } from "./Versions";
import { bytes, count, ms, percent, rate, time } from "./format";
import type { History } from "./history";
import type { Budget, CheckpointStatus, FailedCheckpoint, JobStatus } from "./types";

export function JobPage({
  job,
  history,
  now,
  tick,
}: {
  job: JobStatus;
  history: History;
  now: number;
  tick: number;
}) {
  const d = job.detail;
  return (
    <div class="job" data-testid="job-page">
      <h2>
        {job.id} <span class={`state ${job.state}`} data-testid="job-state">{job.state}</span>
      </h2>
      {job.reason && (
        <p class="reason" data-testid="reason">
          {job.reason}
        </p>
      )}
      <dl class="facts">
        <dt>records in / out</dt>
        <dd>
          {count(job.records_in)} / {count(job.records_out)}
        </dd>
        <dt>rate in / out</dt>
        <dd data-testid="job-rates">
          {rate(job.rate_in)} / {rate(job.rate_out)}
        </dd>
        <dt>watermark</dt>
        <dd>
          {time(job.watermark)} (lag {ms(job.watermark_lag_ms)})
        </dd>
        <dt>CPU</dt>
        <dd>{job.cpu_seconds.toFixed(1)} s</dd>
        {job.kafka_lag != null && (
          <>
            <dt>Kafka lag</dt>
            <dd data-testid="kafka-lag">
              {job.kafka_lag} records
              {job.kafka_partitions.length > 0 &&
                ` (${job.kafka_partitions.map((p) => `${p.topic}/${p.partition}: ${p.lag}`).join(", ")})`}
            </dd>
          </>
        )}
        {job.resumed && (
          <>
            <dt>resumed</dt>
            <dd>
              {job.resumed} ({job.restarts} restart{job.restarts === 1 ? "" : "s"})
            </dd>
          </>
        )}
      </dl>
      <h3>Rates, last 15 minutes</h3>
      <RateChart points={history.of(job.id)} />
      <h3>End-to-end latency (source read → sink), last 15 minutes</h3>
      <LatencyChart points={history.of(job.id)} />
      {d ? (
        <>
          <h3>Graph</h3>
          <JobGraph detail={d} rates={history.stages(job.id)} now={now} />
          <h3>Checkpoints</h3>
          <Checkpoints job={job} />
          <p class="alignment" data-testid="alignment">
            barrier alignment, average per barrier:{" "}
            {d.stages
              .map((s) => `${s.name} ${s.barriers ? (s.alignment_ms / s.barriers).toFixed(1) : "–"} ms`)
              .join(" · ")}
          </p>
          <h3>State and budgets</h3>
          <StateByStage backend={d.state_backend} state={d.state} />
          {job.budgets && <Budgets memory={job.budgets.host_memory} disk={job.budgets.disk} />}
        </>
      ) : (
        <p class="empty">The graph, its rates and the checkpoints show while the job runs.</p>
      )}
      <h3>Versions</h3>
      <Versions job={job.id} operators={job.operators} canary={job.canary} />
      <h3>Outputs</h3>
      <Outputs job={job.id} />
      <h3>Log</h3>
      <Logs job={job.id} operators={job.operators.map((o) => o.name)} tick={tick} />
    </div>
  );
}

type CheckpointRow = { ok: CheckpointStatus } | { failed: FailedCheckpoint };

function Checkpoints({ job }: { job: JobStatus }) {
  const rows: CheckpointRow[] = [
    ...(job.detail?.checkpoints ?? []).map((ok) => ({ ok })),
    ...(job.detail?.failed_checkpoints ?? []).map((failed) => ({ failed })),
  ];
  const epoch = (r: CheckpointRow) => ("ok" in r ? r.ok.epoch : r.failed.epoch);
  const list = rows.sort((a, b) => epoch(b) - epoch(a)).slice(0, 10);
  if (list.length === 0) return <p class="empty">No checkpoint completed yet.</p>;
  return (
    <table class="checkpoints" data-testid="checkpoints">
      <caption>
        the latest {list.length}: {job.checkpoints} completed
        {job.checkpoints_failed > 0 && <span class="error">, {job.checkpoints_failed} failed</span>} since the
        job (re)started
      </caption>
      <thead>
        <tr>
          <th class="num">epoch</th>
          <th>completed</th>
          <th class="num">duration</th>
          <th class="num">size</th>
          <th class="num">new (incremental)</th>
          <th></th>
        </tr>
      </thead>
      <tbody>
        {list.map((r) =>
          "ok" in r ? (
            <tr key={r.ok.epoch}>
              <td class="num">{r.ok.epoch}</td>
              <td>{time(r.ok.completed_ms)}</td>
              <td class="num">{ms(r.ok.duration_ms)}</td>
              <td class="num">{bytes(r.ok.size_bytes)}</td>
              <td class="num">
                {bytes(r.ok.new_bytes)} ({percent(r.ok.size_bytes ? r.ok.new_bytes / r.ok.size_bytes : 0)})
              </td>
              <td>{r.ok.savepoint ? "savepoint" : ""}</td>
            </tr>
          ) : (
            <tr key={`failed-${r.failed.epoch}`} class="failed" data-testid="checkpoint-failed">
              <td class="num">{r.failed.epoch}</td>
              <td>
                <span class="state failed">failed</span> {time(r.failed.failed_ms)}
              </td>
              <td class="num">{ms(r.failed.after_ms)}</td>
              <td colSpan={3} class="reason">
                at <b>{r.failed.task}</b>: {r.failed.reason}
              </td>
            </tr>
          ),
        )}
      </tbody>
    </table>
  );
}

function StateByStage({ backend, state }: { backend: string; state: Record<string, number> }) {
  const rows = Object.entries(state);
  return (
    <table class="state" data-testid="state">
      <caption>
        keyed state in {backend === "rocksdb" ? "RocksDB (on disk)" : "memory"}; bytes each stage wrote into the last
        checkpoint
      </caption>
      <tbody>
        {rows.length === 0 ? (
          <tr>
            <td class="empty">no checkpoint yet</td>
          </tr>
        ) : (
          rows.map(([stage, b]) => (
            <tr key={stage}>
              <td>{stage}</td>
              <td class="num">{bytes(b)}</td>
            </tr>
          ))
        )}
      </tbody>
    </table>
  );
}

function Budgets({ memory, disk }: { memory: Budget; disk: Budget }) {
  const row = (name: string, b: Budget) => (
    <tr>
      <td>{name}</td>
      <td class="num">{bytes(b.used_bytes)}</td>
      <td class="num">{bytes(b.peak_bytes)}</td>
      <td class="num">{b.limit_bytes == null ? "none" : bytes(b.limit_bytes)}</td>
    </tr>
  );
  return (
    <table class="budgets">
      <thead>
        <tr>
          <th></th>
          <th class="num">used</th>
          <th class="num">peak</th>
          <th class="num">limit</th>
        </tr>
      </thead>
      <tbody>
        {row("host memory (state, windows, batches in flight)", memory)}
        {row("disk (RocksDB, checkpoints, outputs, log)", disk)}
      </tbody>
    </table>
  );
}
