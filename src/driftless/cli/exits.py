"""The exit codes of every ``driftless`` command, and which error ends in which.

One table for the whole CLI (documented in the README and in the ``--help``
of the commands that use more than 0 and 1), so a CI job can tell a refused
sync from a Degraded object, a timeout or a broken render:

====  =======================================================================
0     done: synced and healthy, no difference, or the request was written
1     failed: the operation failed, the API server refused, an object is
      missing, differences found (``diff``), or any other error
2     usage error: flags that contradict each other or a malformed value
3     degraded: an object (or the app) became Degraded
4     timeout: the wait ran out of time
5     source error: fetching or rendering the manifests failed
130   interrupted (Ctrl-C)
====  =======================================================================

``code_of`` is the one mapping from an error to its code; ``label_of`` the
word that starts its one-line message on stderr. Pure.
"""

from __future__ import annotations

from driftless.core.errors import DriftlessError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_DEGRADED = 3
EXIT_TIMEOUT = 4
EXIT_SOURCE = 5
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = """\
\b
Exit codes:
  0  synced and healthy
  1  sync failed (a hook failed, the API server refused an object)
  2  usage error
  3  degraded (an object became Degraded)
  4  timeout
  5  render or source error (bad YAML, missing path, unreachable repository)
"""


class SourceFailedError(DriftlessError):
    """Fetching or rendering the source failed (exit code 5)."""


class UsageFailedError(DriftlessError):
    """The flags contradict each other, or name something that cannot be used (exit code 2)."""


def code_of(exc: BaseException) -> int:
    """The exit code a command ends with when ``exc`` stops it."""
    if isinstance(exc, SourceFailedError):
        return EXIT_SOURCE
    if isinstance(exc, UsageFailedError):
        return EXIT_USAGE
    return EXIT_FAILED


def label_of(exc: BaseException) -> str:
    """The first word of the error line (``Error: ...`` as click writes its own)."""
    return {EXIT_SOURCE: "render error", EXIT_USAGE: "usage error"}.get(code_of(exc), "Error")
