// The host admin's view: the host's CPU, memory and threads, and each
// tenant's usage against its quotas (no tenant's jobs: the admin token
// reads none).

import { useEffect, useState } from "preact/hooks";
import { getJson } from "./api";
import { type UsagePoint, UsageChart } from "./Chart";
import { bytes, percent, rate } from "./format";
import type { HostUsage } from "./types";

export function AdminPage() {
  const [usage, setUsage] = useState<HostUsage | null>(null);
  const [cpu, setCpu] = useState<Map<string, number>>(new Map());
  // Samples since the page opened, the last 15 minutes of them.
  const [points, setPoints] = useState<UsagePoint[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let before: { t: number; u: HostUsage } | null = null;
    const load = () =>
      getJson<HostUsage>("/v1/admin/host")
        .then((u) => {
          const t = Date.now();
          if (before) {
            // CPU shares since the last sample: cores' worth per second.
            const dt = (t - before.t) / 1000;
            const m = new Map<string, number>();
            m.set("(host)", (u.cpu_seconds - before.u.cpu_seconds) / dt / u.cores);
            for (const tn of u.tenants) {
              const b = before.u.tenants.find((x) => x.name === tn.name);
              if (b) m.set(tn.name, (tn.cpu_seconds - b.cpu_seconds) / dt / u.cores);
            }
            setCpu(m);
            const point: UsagePoint = {
              t: t / 1000,
              host: m.get("(host)") ?? 0,
              rss: u.rss_bytes,
              tenants: Object.fromEntries(u.tenants.map((x) => [x.name, m.get(x.name) ?? 0])),
            };
            setPoints((ps) => [...ps.filter((p) => p.t > point.t - 15 * 60), point]);
          }
          before = { t, u };
          setUsage(u);
          setError(null);
        })
        .catch((e: Error) => setError(e.message));
    load();
    const id = setInterval(load, 2000);
    return () => clearInterval(id);
  }, []);
  if (error) return <p class="error">{error}</p>;
  if (!usage) return <p class="empty">loading…</p>;
  return (
    <div data-testid="admin">
      <h2>Host</h2>
      <dl class="facts" data-testid="host">
        <dt>CPU</dt>
        <dd>
          {percent(cpu.get("(host)"))} of {usage.cores} cores ({usage.cpu_seconds.toFixed(1)} s since start)
        </dd>
        <dt>memory (RSS)</dt>
        <dd>{bytes(usage.rss_bytes)}</dd>
        <dt>threads</dt>
        <dd data-testid="threads">{usage.threads}</dd>
        <dt>jobs running</dt>
        <dd>{usage.jobs_running}</dd>
        <dt>up</dt>
        <dd>{Math.floor(usage.uptime_s / 60)} min</dd>
      </dl>
      <h3>CPU and memory since this page opened (up to 15 minutes)</h3>
      <UsageChart tenants={usage.tenants.map((x) => x.name)} points={points} />
      <h2>Tenants</h2>
      <table class="tenants" data-testid="tenants">
        <thead>
          <tr>
            <th>tenant</th>
            <th class="num">CPU now</th>
            <th class="num">cpu_share</th>
            <th>jobs (running / max)</th>
            <th>host memory (all jobs / per job)</th>
            <th>disk (all jobs / per job)</th>
            <th class="num">records in</th>
          </tr>
        </thead>
        <tbody>
          {usage.tenants.map((t) => (
            <tr key={t.name} data-tenant={t.name}>
              <td>{t.name}</td>
              <td class="num">{percent(cpu.get(t.name))}</td>
              <td class="num">{t.cpu_share}</td>
              <td>
                <Bar used={t.jobs_running} limit={t.max_jobs} text={`${t.jobs_running} / ${t.max_jobs} (${t.jobs} in all)`} />
              </td>
              <td>
                <Bar
                  used={t.host_memory_bytes}
                  limit={t.host_memory_per_job * Math.max(1, t.jobs_running)}
                  text={`${bytes(t.host_memory_bytes)} / ${bytes(t.host_memory_per_job)}`}
                />
              </td>
              <td>
                <Bar
                  used={t.disk_bytes}
                  limit={t.disk_per_job * Math.max(1, t.jobs_running)}
                  text={`${bytes(t.disk_bytes)} / ${bytes(t.disk_per_job)}`}
                />
              </td>
              <td class="num">{rate(t.rate_in)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Bar({ used, limit, text }: { used: number; limit: number; text: string }) {
  const share = limit > 0 ? Math.min(1, used / limit) : 0;
  return (
    <div class="bar" title={percent(share)}>
      <div class="fill" style={{ width: `${share * 100}%`, background: share > 0.9 ? "#dc2626" : "#60a5fa" }} />
      <span>{text}</span>
    </div>
  );
}
