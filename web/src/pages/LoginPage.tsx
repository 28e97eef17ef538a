// Log in: with the local account (POST /api/v1/session sets the session cookie) and/or
// with single sign-on (a plain navigation to the server, which sends the browser to the
// provider's own login page and back). GET /api/v1/auth/methods says which are on.
// `?sso=unavailable` is where the server sends the browser when the provider does not answer.

import { useEffect, useState, type FormEvent } from "react";
import { SSO_LOGIN_PATH, api } from "../api";
import { ErrorMessage } from "../components";

export function LoginPage({ onLoggedIn }: { onLoggedIn: (user: string) => void }) {
  const [username, setUsername] = useState("admin");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [methods, setMethods] = useState<string[] | null>(null);
  const ssoDown = new URLSearchParams(window.location.search).get("sso") === "unavailable";

  useEffect(() => {
    api.loginMethods().then(
      (found) => setMethods(found.methods),
      () => setMethods(["local"]), // an older server: the password login it always had
    );
  }, []);

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

  if (methods === null) {
    return <main className="login" aria-busy="true"><p className="muted">Loading…</p></main>;
  }
  const local = methods.includes("local");
  const sso = methods.includes("oidc");

  return (
    <main className="login">
      <form className="card" onSubmit={(e) => void submit(e)} aria-labelledby="login-title">
        <h1 id="login-title">Log in to driftless</h1>
        {ssoDown && (
          <p className="error-box" role="alert">
            The single sign-on provider does not answer; try again in a moment
            {local ? " or log in with the admin account" : ""}.
          </p>
        )}
        {sso && (
          <a className="button-link" href={SSO_LOGIN_PATH}>Log in with SSO</a>
        )}
        {local && (
          <>
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
              autoFocus={!sso}
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
            {error !== null && <ErrorMessage error={error} title="Cannot log in" />}
            <button type="submit" disabled={busy}>{busy ? "Logging in…" : "Log in"}</button>
            <p className="hint">
              The first password of <code>admin</code> is in the Secret{" "}
              <code>driftless-initial-admin</code> of the controller's namespace.
            </p>
          </>
        )}
      </form>
    </main>
  );
}
