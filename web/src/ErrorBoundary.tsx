// The last line of defence against a blank page: a render error shows what
// happened and a way back, instead of unmounting the whole UI.

import { Component, type ErrorInfo, type ReactNode } from "react";

interface Props {
  children: ReactNode;
}

interface State {
  error: Error | null;
}

export class ErrorBoundary extends Component<Props, State> {
  override state: State = { error: null };

  static getDerivedStateFromError(error: unknown): State {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  override componentDidCatch(error: Error, info: ErrorInfo): void {
    console.error("driftless UI error", error, info.componentStack);
  }

  override render(): ReactNode {
    const { error } = this.state;
    if (error === null) return this.props.children;
    return (
      <main className="page">
        <div role="alert" className="error-box">
          <h1>Something went wrong in the UI</h1>
          <p>{error.message || "An unexpected error happened while showing this page."}</p>
          <p>
            <a href="/applications">Back to the applications</a> or{" "}
            <button type="button" onClick={() => window.location.reload()}>
              reload the page
            </button>
          </p>
        </div>
      </main>
    );
  }
}
