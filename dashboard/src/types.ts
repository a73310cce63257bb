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
  watermark: number | null;
}

export interface Detail {
  graph: Shape;
  stages: StageStatus[];
  checkpoints: CheckpointStatus[];
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
  last_checkpoint: CheckpointStatus | null;
  checkpoints: number;
  operators: OperatorStatus[];
  budgets: { host_memory: Budget; disk: Budget } | null;
  detail?: Detail;
}

/** One event of `GET /v1/stream`. */
export interface Snapshot {
  time_ms: number;
  jobs: JobStatus[];
  job: JobStatus | null;
}
