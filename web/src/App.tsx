// The app shell: checks the session, routes by path, and keeps every page
// inside an error boundary so a failure shows a message, never a blank page.

import { useCallback, useEffect, useState } from "react";
import { ApiError, api } from "./api";
import { ErrorMessage } from "./components";
import { ErrorBoundary } from "./ErrorBoundary";
import { AppEditPage, editTarget } from "./edit/AppEditPage";
import { AppListPage } from "./pages/AppListPage";
import { AppPage } from "./pages/AppPage";
import { ClustersPage, ProjectsPage, RepositoriesPage } from "./pages/ConfigPages";
import { LoginPage } from "./pages/LoginPage";
import { Link, navigate, safeLocalPath, useLocation } from "./router";
import { SessionContext } from "./session";

type SessionState =
  | { state: "checking" }
  | { state: "in"; user: string }
  | { state: "out" }
  | { state: "error"; error: unknown };

const HOME = "/applications";

function loginURL(next: string): string {
  return next === HOME ? "/login" : `/login?next=${encodeURIComponent(next)}`;
}

export function App() {
  const location = useLocation();
  const [session, setSession] = useState<SessionState>({ state: "checking" });

  const check = useCallback(() => {
    setSession({ state: "checking" });
    api.session().then(
      (s) => setSession({ state: "in", user: s.user }),
      (error: unknown) =>
        setSession(error instanceof ApiError && error.unauthorized ? { state: "out" } : {
          state: "error",
          error,
        }),
    );
  }, []);
  useEffect(check, [check]);

  const expired = useCallback(() => setSession({ state: "out" }), []);
  const onLoggedIn = useCallback((user: string) => {
    setSession({ state: "in", user });
    const next = new URLSearchParams(window.location.search).get("next");
    navigate(safeLocalPath(next, HOME), { replace: true });
  }, []);

  const atLogin = location.pathname === "/login";
  useEffect(() => {
    if (session.state === "out" && !atLogin) {
      navigate(loginURL(location.pathname + location.search), { replace: true });
    } else if (session.state === "in" && atLogin) {
      navigate(safeLocalPath(new URLSearchParams(location.search).get("next"), HOME), {
        replace: true,
      });
    } else if (session.state === "in" && location.pathname === "/") {
      navigate(HOME, { replace: true });
    }
  }, [session.state, atLogin, location.pathname, location.search]);

  if (session.state === "checking") {
    return <main className="page" aria-busy="true"><p className="muted">Loading…</p></main>;
  }
  if (session.state === "error") {
    return (
      <main className="page">
        <h1>driftless</h1>
        <ErrorMessage error={session.error} title="Cannot load the UI" />
        <button type="button" onClick={check}>Try again</button>
      </main>
    );
  }
  if (session.state === "out") {
    return atLogin ? <LoginPage onLoggedIn={onLoggedIn} /> : null;
  }

  async function logout(): Promise<void> {
    try {
      const ended = await api.logout();
      // A single sign-on session: log out at the provider too.
      if (ended?.endSessionUrl) window.location.assign(ended.endSessionUrl);
    } finally {
      setSession({ state: "out" });
    }
  }

  return (
    <SessionContext.Provider value={{ user: session.user, expired }}>
      <header className="topbar">
        <Link to={HOME} className="brand">driftless</Link>
        <nav aria-label="Main">
          {NAV.map(([to, label]) => (
            <Link key={to} to={to}
              aria-current={location.pathname === to || location.pathname.startsWith(`${to}/`)
                ? "page" : undefined}>
              {label}
            </Link>
          ))}
        </nav>
        <span className="user">
          Signed in as <strong>{session.user}</strong>
        </span>
        <button type="button" onClick={() => void logout()}>Log out</button>
      </header>
      <ErrorBoundary key={location.pathname}>
        <Routes pathname={location.pathname} />
      </ErrorBoundary>
    </SessionContext.Provider>
  );
}

const APP_PATH = /^\/applications\/([^/]+)\/([^/]+)\/?$/;
const NAV: [string, string][] = [
  [HOME, "Applications"],
  ["/projects", "Projects"],
  ["/repositories", "Repositories"],
  ["/clusters", "Clusters"],
];
// `/projects`, `/repositories`, `/clusters`, and one item of each: `/projects/NAME`.
const CONFIG_PATH = /^\/(projects|repositories|clusters)(?:\/([^/]+))?\/?$/;
const CONFIG_PAGES = { projects: ProjectsPage, repositories: RepositoriesPage, clusters: ClustersPage };

function Routes({ pathname }: { pathname: string }) {
  if (pathname === HOME || pathname === `${HOME}/` || pathname === "/") return <AppListPage />;
  const edit = editTarget(pathname);
  if (edit !== null) return <AppEditPage target={edit} />;
  const match = APP_PATH.exec(pathname);
  if (match !== null) {
    const [, namespace = "", name = ""] = match;
    return <AppPage namespace={decode(namespace)} name={decode(name)} />;
  }
  const config = CONFIG_PATH.exec(pathname);
  if (config !== null) {
    const Page = CONFIG_PAGES[config[1] as keyof typeof CONFIG_PAGES];
    return <Page name={config[2] === undefined ? undefined : decode(config[2])} />;
  }
  return (
    <main className="page">
      <h1>Page not found</h1>
      <p>
        Nothing lives at <code>{pathname}</code>. <Link to={HOME}>See all applications</Link>.
      </p>
    </main>
  );
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
