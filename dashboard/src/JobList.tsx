// The tenant's jobs at a glance: state, rates, lags, failures.

import { count, ms, rate, time } from "./format";
import type { JobStatus } from "./types";

export function JobList({ jobs }: { jobs: JobStatus[] }) {
  if (jobs.length === 0) {
    return <p class="empty">No jobs yet: submit one with <code>weir submit JOB.toml</code>.</p>;
  }
  return (
    <table class="jobs" data-testid="jobs">
      <thead>
        <tr>
          <th>job</th>
          <th>state</th>
          <th class="num">in</th>
          <th class="num">out</th>
          <th class="num">records in</th>
          <th class="num">watermark lag</th>
          <th class="num">Kafka lag</th>
          <th class="num">checkpoints</th>
          <th>submitted</th>
        </tr>
      </thead>
      <tbody>
        {jobs.map((j) => (
          <>
            <tr key={j.id} data-job={j.id}>
              <td>
                <a href={`#/job/${encodeURIComponent(j.id)}`}>{j.id}</a>
              </td>
              <td>
                <span class={`state ${j.state}`}>{j.state}</span>
              </td>
              <td class="num">{rate(j.rate_in)}</td>
              <td class="num">{rate(j.rate_out)}</td>
              <td class="num">{count(j.records_in)}</td>
              <td class="num">{j.state === "running" ? ms(j.watermark_lag_ms) : "–"}</td>
              <td class="num">{j.kafka_lag ?? "–"}</td>
              <td class="num">
                {j.checkpoints}
                {j.checkpoints_failed > 0 && <span class="error"> ({j.checkpoints_failed} failed)</span>}
              </td>
              <td>{time(j.submitted_ms)}</td>
            </tr>
            {j.reason && (
              <tr key={`${j.id}-reason`} class="reason-row">
                <td colSpan={9} class="reason" data-testid="reason">
                  <details>
                    <summary>{firstLines(j.reason)}</summary>
                    {j.reason}
                  </details>
                </td>
              </tr>
            )}
          </>
        ))}
      </tbody>
    </table>
  );
}

/** The first two lines of a failure (a trap's backtrace follows them). */
function firstLines(reason: string): string {
  const lines = reason.split("\n");
  return lines.slice(0, 2).join(" ") + (lines.length > 2 ? " …" : "");
}
