// The dashboard of `weir serve`: sign in with a tenant's token, see the
// tenant's jobs (`#/`) and each job's page (`#/job/ID`), live from
// `GET /v1/stream`.

import { render } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { AdminPage } from "./AdminPage";
import { ApiError, follow, getJson, signIn, signOut, token } from "./api";
import { History } from "./history";
import { JobList } from "./JobList";
import { JobPage } from "./JobPage";
import type { Sample, Snapshot, WhoAmI } from "./types";
import "./style.css";

function route(): string | null {
  const m = location.hash.match(/^#\/job\/(.+)$/);
  return m ? decodeURIComponent(m[1]) : null;
}

function SignIn({ onDone, error }: { onDone: () => void; error: string | null }) {
  const [t, setT] = useState("");
  return (
    <form
      class="signin"
      onSubmit={(e) => {
        e.preventDefault();
        signIn(t);
        onDone();
      }}
    >
      <h1>weir</h1>
      <p>Sign in with your tenant's API token. It stays in this tab only.</p>
      <input
        type="password"
        name="token"
        autocomplete="off"
        placeholder="token"
        value={t}
        onInput={(e) => setT((e.currentTarget as HTMLInputElement).value)}
      />
      <button type="submit">sign in</button>
      {error && <p class="error" data-testid="signin-error">{error}</p>}
    </form>
  );
}

function App() {
  const [signedIn, setSignedIn] = useState(token() != null);
  const [who, setWho] = useState<WhoAmI | null>(null);
  const [job, setJob] = useState<string | null>(route());
  const [snap, setSnap] = useState<Snapshot | null>(null);
  const [tick, setTick] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const history = useMemo(() => new History(), []);
  useEffect(() => {
    const on = () => setJob(route());
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  useEffect(() => {
    if (!signedIn) return;
    getJson<WhoAmI>("/v1/whoami")
      .then(setWho)
      .catch((e: Error) => {
        setError(e.message);
        if (e instanceof ApiError && e.status === 401) {
          signOut();
          setSignedIn(false);
        }
      });
  }, [signedIn]);
  useEffect(() => {
    // A job's page opens with the host's last 15 minutes of it.
    if (!signedIn || who?.kind !== "tenant" || job == null) return;
    getJson<Sample[]>(`/v1/jobs/${encodeURIComponent(job)}/history`)
      .then((samples) => history.seed(job, samples))
      .catch(() => {}); // no such job: the page says so from the stream
  }, [signedIn, who, job]);
  useEffect(() => {
    if (!signedIn || who?.kind !== "tenant") return;
    setSnap(null);
    return follow(
      job,
      (s) => {
        history.add(s);
        setSnap(s);
        setTick((t) => t + 1);
        setError(null);
      },
      (e) => {
        setError(e.message);
        if ((e as { status?: number }).status === 401) {
          signOut();
          setSignedIn(false);
        }
      },
    );
  }, [signedIn, who, job]);
  if (!signedIn) return <SignIn onDone={() => setSignedIn(true)} error={error} />;
  return (
    <div class="app">
      <header>
        <a href="#/" class="brand">
          weir
        </a>
        <span class="who" data-testid="who">
          {who == null ? "" : who.kind === "admin" ? "host admin" : `tenant ${who.tenant}`}
        </span>
        <span class="live">
          {who?.kind === "admin" ? "" : snap ? `live · ${new Date(snap.time_ms).toLocaleTimeString()}` : "connecting…"}
        </span>
        <button
          onClick={() => {
            signOut();
            setWho(null);
            setSnap(null);
            setSignedIn(false);
          }}
        >
          sign out
        </button>
      </header>
      {error && <p class="error">{error}</p>}
      <main>
        {who?.kind === "admin" ? (
          <AdminPage />
        ) : job == null ? (
          <>
            <h2>Jobs</h2>
            {snap && <JobList jobs={snap.jobs} />}
          </>
        ) : snap?.job ? (
          <JobPage job={snap.job} history={history} now={snap.time_ms} tick={tick} />
        ) : snap ? (
          <p class="error">No job `{job}` (of this tenant).</p>
        ) : null}
      </main>
    </div>
  );
}

render(<App />, document.getElementById("app")!);
