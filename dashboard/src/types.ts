// The shapes of the API's answers (openapi.yaml at the repository root).

export type State = "starting" | "running" | "finished" | "failed" | "cancelled";

export interface Version {
  digest: string;
  origin: "job-file" | "swap" | "rollback";
  after_epoch: number | null;
  at_ms: number;
}

export interface OperatorStatus {
  name: string;
  digest: string;
  versions: Version[];
  busy_ms: number;
}

export interface CheckpointStatus {
  epoch: number;
  completed_ms: number;
  duration_ms: number;
  size_bytes: number;
  new_bytes: number;
  savepoint: boolean;
}

export interface FailedCheckpoint {
  epoch: number;
  failed_ms: number;
  after_ms: number;
  task: string;
  reason: string;
}

export interface Budget {
  used_bytes: number;
  peak_bytes: number;
  limit_bytes: number | null;
}

export interface ShapeStage {
  name: string;
  kind: string;
  detail: string;
  inputs: { from: string; key: string | null }[];
  parallelism: number;
}

export interface Shape {
  sources: string[];
  stages: ShapeStage[];
  sinks: { name: string; kind: string; input: string }[];
}

export interface StageStatus {
  name: string;
  records_in: number;
  records_out: number;
  busy_ms: number;
  idle_ms: number;
  backpressure_ms: number;
  alignment_ms: number;
  barriers: number;
  watermark: number | null;
}

export interface Detail {
  graph: Shape;
  stages: StageStatus[];
  checkpoints: CheckpointStatus[];
  failed_checkpoints: FailedCheckpoint[];
  state_backend: string;
  state: Record<string, number>;
}

export interface CanaryStatus {
  operator: string;
  digest: string;
  records: number;
  errors: number;
  batches: number;
  differing_batches: number;
  target_records: number;
  duration_ms: number | null;
  elapsed_ms: number;
}

export interface JobStatus {
  id: string;
  state: State;
  reason: string | null;
  submitted_ms: number;
  ended_ms: number | null;
  resumed: string | null;
  records_in: number;
  records_out: number;
  rate_in: number;
  rate_out: number;
  cpu_seconds: number;
  watermark: number | null;
  watermark_lag_ms: number | null;
  kafka_lag: number | null;
  kafka_partitions: { topic: string; partition: number; lag: number }[];
  last_checkpoint: CheckpointStatus | null;
  checkpoints: number;
  checkpoints_failed: number;
  operators: OperatorStatus[];
  budgets: { host_memory: Budget; disk: Budget } | null;
  latency: Latency | null;
  restarts: number;
  canary: CanaryStatus | null;
  detail?: Detail;
}

/** End-to-end latency since the job (re)started: a histogram. */
export interface Latency {
  bounds_s: number[];
  cumulative: number[]; // rows at or under each bound; the last: all rows
  sum_s: number;
  count: number;
}

/** `GET /v1/whoami`. */
export interface WhoAmI {
  kind: "tenant" | "admin";
  tenant: string | null;
}

/** `GET /v1/admin/host`. */
export interface HostUsage {
  uptime_s: number;
  cpu_seconds: number;
  rss_bytes: number;
  threads: number;
  cores: number;
  jobs_running: number;
  tenants: TenantUsage[];
}

export interface TenantUsage {
  name: string;
  cpu_share: number;
  cpu_seconds: number;
  jobs_running: number;
  jobs: number;
  max_jobs: number;
  host_memory_bytes: number;
  host_memory_per_job: number;
  disk_bytes: number;
  disk_per_job: number;
  rate_in: number;
}

/** One event of `GET /v1/stream`. */
export interface Snapshot {
  time_ms: number;
  jobs: JobStatus[];
  job: JobStatus | null;
}

/** One second of a job (`GET /v1/jobs/{id}/history`). */
export interface Sample {
  at_ms: number;
  rate_in: number;
  rate_out: number;
  watermark_lag_ms: number | null;
  latency_p50_ms: number | null;
  latency_p99_ms: number | null;
}
