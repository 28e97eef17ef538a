// A unified diff as text, each line coloured by what it is (added, removed,
// hunk, header). The +/- stays in the text: the colour is never the only sign.

import { diffLines } from "./diffView";

export function UnifiedDiff({ text, label }: { text: string; label: string }) {
  const lines = diffLines(text);
  if (lines.length === 0) return <p className="muted">No difference.</p>;
  return (
    <pre className="diff" aria-label={label} tabIndex={0}>
      {lines.map((line, at) => (
        <span key={at} className={`diff-line diff-${line.kind}`}>{line.text}{"\n"}</span>
      ))}
    </pre>
  );
}
