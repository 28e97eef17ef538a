// Log in with a local account (POST /api/v1/session sets the session cookie).

import { useState, type FormEvent } from "react";
import { api } from "../api";
import { ErrorMessage } from "../components";

export function LoginPage({ onLoggedIn }: { onLoggedIn: (user: string) => void }) {
  const [username, setUsername] = useState("admin");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>): Promise<void> {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const session = await api.login(username, password);
      onLoggedIn(session.user || username);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  return (
    <main className="login">
      <form className="card" onSubmit={(e) => void submit(e)} aria-labelledby="login-title">
        <h1 id="login-title">Log in to driftless</h1>
        <label htmlFor="username">Username</label>
        <input
          id="username"
          name="username"
          autoComplete="username"
          required
          value={username}
          onChange={(e) => setUsername(e.target.value)}
        />
        <label htmlFor="password">Password</label>
        <input
          id="password"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          autoFocus
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        {error !== null && <ErrorMessage error={error} title="Cannot log in" />}
        <button type="submit" disabled={busy}>{busy ? "Logging in…" : "Log in"}</button>
        <p className="hint">
          The first password of <code>admin</code> is in the Secret{" "}
          <code>driftless-initial-admin</code> of the controller's namespace.
        </p>
      </form>
    </main>
  );
}
