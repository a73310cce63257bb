//! The command line's arguments: clap's definitions of every subcommand
//! and its options (`main.rs` dispatches them).

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use weir::wasm::World;

/// Stream processing with user operators as sandboxed WebAssembly components.
///
/// A job is a SQL script (`weir sql`, Flink's dialect) or a job file (TOML):
/// sources, Wasm operators, key-by, windows, joins and sinks as a graph of
/// stages. See README.md for both formats and examples.
#[derive(Parser)]
#[command(name = "weir", version, propagate_version = true)]
pub struct Cli {
    /// More log output (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run a job in this process, with no server: to the end of its input,
    /// or until stopped (Ctrl-C) when the source is unbounded (Kafka).
    ///
    /// Operator projects named in the job are built first (Rust crates with
    /// cargo, Python modules with componentize-py); compiled code is cached
    /// under ~/.cache/weir so a second start does not recompile.
    Run {
        /// The job file.
        job: PathBuf,
        /// Override a job setting, e.g. --set parallelism=4 --set sink.path=out.jsonl
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// No progress lines, only the summary.
        #[arg(short, long)]
        quiet: bool,
        /// Ignore the job's checkpoints and start from the beginning (its
        /// outputs are truncated). By default a job with [checkpoint]
        /// resumes from its newest complete checkpoint.
        #[arg(long, conflicts_with = "from_savepoint")]
        fresh: bool,
        /// Start from this savepoint (a directory printed by `weir
        /// savepoint`), e.g. with a new operator version or parallelism.
        #[arg(long, value_name = "DIR")]
        from_savepoint: Option<PathBuf>,
        /// When the keyed stage changed so that its saved state no longer
        /// fits, start it empty instead of refusing to run.
        #[arg(long)]
        allow_dropped_state: bool,
    },
    /// Run a SQL script in Apache Flink's dialect as a job in this process.
    ///
    /// The script declares its tables with `CREATE TABLE … (…, WATERMARK
    /// FOR ts AS ts - INTERVAL '5' SECOND) WITH ('connector' = 'filesystem'
    /// | 'kafka' | 'datagen' | 'jdbc' | 'postgres' | 'print' | 'blackhole',
    /// …)` in Flink's option names (a `jdbc` table is a PostgreSQL table,
    /// upserted by its `PRIMARY KEY … NOT ENFORCED`, exactly-once with
    /// checkpoints), may `SET` Flink's `pipeline.name`,
    /// `parallelism.default`, `execution.checkpointing.interval`,
    /// `state.backend.type` (`hashmap` or `rocksdb`),
    /// `table.exec.source.idle-timeout` and `table.exec.state.ttl`, may
    /// `CREATE FUNCTION f AS 'f.wasm' LANGUAGE WASM` (a scalar function, or
    /// an aggregate function, with a window or without), and holds one
    /// `INSERT INTO sink SELECT …`.
    ///
    /// The query may: project and filter (scalar functions, CASE, casts,
    /// Wasm functions); aggregate over windows (`TABLE(TUMBLE | HOP |
    /// CUMULATE | SESSION(…))` with `GROUP BY window_start, window_end, …`,
    /// or `GROUP BY TUMBLE(ts, …)`), with COUNT, SUM, MIN, MAX, AVG and
    /// COUNT(DISTINCT x), a window of a window's results included;
    /// aggregate without a window (`GROUP BY columns`), an updating result
    /// whose changes (+I, -U, +U, -D) go to a `'format' = 'debezium-json'`
    /// or a `jdbc` table; aggregate a join's or a subquery's rows; join two
    /// tables (inner interval and window joins; regular joins, inner or
    /// LEFT, RIGHT and FULL OUTER, an outer one's result updating); aggregate over a
    /// window of rows (`… OVER (PARTITION BY k ORDER BY ts ROWS|RANGE
    /// BETWEEN … PRECEDING AND CURRENT ROW)`); rank (`ROW_NUMBER() OVER
    /// (…) AS rn … WHERE rn <= N`: Top-N, deduplication, Window Top-N, a
    /// Top-N of an aggregation without a window).
    /// Anything else (outer interval or window joins, a join of three tables, RANK(),
    /// …) is refused before the job starts, with
    /// the construct and its line. `weir run` and `weir submit` take a
    /// `.sql` file too; README.md's SQL section has the full list.
    ///
    /// With no script, an interactive shell (like Flink's SQL client):
    /// `CREATE TABLE` and `SET` are kept, a `SELECT` runs at once and its
    /// rows print as a table as they arrive (an updating one's with their
    /// change in a first column, `op`; Ctrl-C stops it).
    Sql {
        /// The script (`.sql`); none: the interactive shell.
        script: Option<PathBuf>,
        /// Override a setting of the job the script makes, as for `run`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// No progress lines, only the summary.
        #[arg(short, long)]
        quiet: bool,
        /// Print the job file the script makes (TOML) instead of running it.
        #[arg(long)]
        print_job: bool,
        /// Ignore the job's checkpoints and start from the beginning.
        #[arg(long)]
        fresh: bool,
    },
    /// Take a savepoint of a running job, and print its directory. It is
    /// kept apart from retention; resume from it with `weir run
    /// --from-savepoint DIR` (also after changing the job).
    ///
    /// JOB is a job file run by `weir run` on this machine, or the id of a
    /// job of `weir serve` (ids have no `.` or `/`).
    Savepoint {
        /// The job file the job was started from, or a served job's id.
        job: String,
        #[command(flatten)]
        server: ServerArgs,
        /// Overrides the job was started with (they can change its name or
        /// checkpoint directory).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// How long to wait for the savepoint, in seconds.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
    /// Put a new version of an operator live in a running job, at its next
    /// checkpoint barrier: records before it are processed by the old
    /// version, records after it by the new one, and the operator's state
    /// carries over. The new component is built and checked first; one of
    /// another world is refused and the old version keeps running.
    ///
    /// JOB is a job file run by `weir run` on this machine, or the id of a
    /// job of `weir serve` (ids have no `.` or `/`).
    Swap {
        /// The job file the job was started from, or a served job's id.
        job: String,
        #[command(flatten)]
        server: ServerArgs,
        /// The operator's name in the job.
        operator: String,
        /// The new version: a .wasm component or an operator project.
        component: PathBuf,
        /// Overrides the job was started with.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// First run the new version in shadow beside the old one on this
        /// many records (its output compared and discarded), then promote
        /// it, or roll it back if it traps or rejects too many records.
        /// Stateless operators only.
        #[arg(long, value_name = "RECORDS")]
        canary: Option<u64>,
        /// Or (also) run the shadow this long, e.g. `30s`, then decide on
        /// the records it saw (whichever of --canary and this comes first).
        #[arg(long, value_name = "DURATION")]
        canary_for: Option<String>,
        /// With a canary: the share of records the new version may reject
        /// before it is rolled back (0.01 = 1%).
        #[arg(long, default_value_t = 0.0)]
        max_error_rate: f64,
        /// How long to wait for the swap, in seconds.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
    },
    /// Put the version of an operator that was live before the current one
    /// back into the running job (at the next checkpoint barrier, like
    /// `weir swap`), from the job's component store. Run it again to undo.
    ///
    /// JOB is a job file run by `weir run` on this machine, or the id of a
    /// job of `weir serve`.
    Rollback {
        /// The job file the job was started from, or a served job's id.
        job: String,
        #[command(flatten)]
        server: ServerArgs,
        /// The operator's name in the job.
        operator: String,
        /// Overrides the job was started with.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// How long to wait, in seconds.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
    },
    /// Run the multi-tenant host: jobs of many tenants in one process,
    /// controlled through a REST API (openapi.yaml) whose client is this
    /// CLI. Jobs that were running when it stopped resume when it starts.
    Serve {
        /// The host config: listen address, data directory, tenants with
        /// their token digests and quotas (see README.md).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Listen here instead of the config's `listen` (port 0: any free
        /// port; the address is written to DATA_DIR/address).
        #[arg(long, value_name = "HOST:PORT")]
        listen: Option<String>,
    },
    /// Make an API token for a tenant: prints the token (give it to the
    /// tenant) and its SHA-256 (put it in the host config's token_sha256).
    Token {
        /// Hash this token instead of making a new one.
        #[arg(long)]
        hash: Option<String>,
    },
    /// Submit a job to `weir serve`: uploads the job file, its components
    /// (building operator projects first) and a file source's input. The
    /// job's name is its id.
    Submit {
        /// The job file.
        job: PathBuf,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// List your jobs on `weir serve`.
    List {
        #[command(flatten)]
        server: ServerArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// A served job's state (and why it failed), rates, watermark, last
    /// checkpoint and operator versions.
    Status {
        /// The job's id.
        job: String,
        #[command(flatten)]
        server: ServerArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Cancel a served job. Its checkpoints, outputs and log stay until it
    /// is submitted again, which starts it afresh.
    Cancel {
        /// The job's id.
        job: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// A served job's log: host and guest lines, tagged.
    Logs {
        /// The job's id.
        job: String,
        #[command(flatten)]
        server: ServerArgs,
        /// How many of the last lines.
        #[arg(long, default_value_t = 200)]
        tail: usize,
    },
    /// A served job's file output (what its sink committed so far).
    Output {
        /// The job's id.
        job: String,
        #[command(flatten)]
        server: ServerArgs,
        /// sink, dead_letter, late_output, or the name of a named sink ([[sinks]]).
        #[arg(long, default_value = "sink")]
        name: String,
    },
    /// Build an operator project into a WebAssembly component.
    ///
    /// A directory with Cargo.toml is built with `cargo build --release
    /// --target wasm32-wasip2`; a directory with app.py (or one .py file)
    /// with componentize-py. Nothing is installed: a missing toolchain is
    /// reported with the command that installs it.
    Build {
        /// The project directory.
        project: PathBuf,
        /// The world a Python operator implements (Rust operators declare theirs).
        #[arg(long, value_enum, default_value_t = WorldArg::Transform)]
        world: WorldArg,
        /// Copy the component here.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Check a job file and report every problem with its location.
    Validate {
        /// The job file.
        job: PathBuf,
        /// Override a job setting, as for `run`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Also build and load every component and check its world.
        #[arg(long)]
        components: bool,
    },
    /// Run the benchmarks: Wasm vs native side by side in one run.
    Bench(weir::bench::BenchArgs),
    /// Inspect a checkpoint directory.
    #[command(subcommand)]
    Checkpoints(CheckpointsCommand),
}

/// Where `weir serve` is and the tenant's token.
#[derive(clap::Args)]
pub struct ServerArgs {
    /// The API's URL.
    #[arg(long, env = "WEIR_SERVER", default_value = "http://127.0.0.1:7878")]
    pub server: String,
    /// Your tenant's API token.
    #[arg(long, env = "WEIR_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl ServerArgs {
    pub fn client(&self) -> anyhow::Result<super::client::Client> {
        super::client::Client::new(&self.server, self.token.clone())
    }
}

/// A job file (run by `weir run`) rather than a served job's id: ids have
/// neither `.` nor `/`.
pub fn is_job_file(job: &str) -> bool {
    job.contains('.') || job.contains('/')
}

#[derive(Subcommand)]
pub enum CheckpointsCommand {
    /// List the checkpoints in DIR, newest first: epoch, job, completion
    /// time, size, duration; damaged ones with the reason.
    List {
        /// The checkpoint directory.
        dir: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum WorldArg {
    Transform,
    Keyed,
    Aggregate,
}

impl From<WorldArg> for World {
    fn from(w: WorldArg) -> World {
        match w {
            WorldArg::Transform => World::Transform,
            WorldArg::Keyed => World::Keyed,
            WorldArg::Aggregate => World::Aggregate,
        }
    }
}
