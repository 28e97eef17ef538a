"""A loopback smart-HTTP git server: the quickstart's example repository, and tests'.

``GitHttpServer`` is Python's ``http.server`` in a background thread that hands
every request to ``git http-backend`` (git's own CGI program), exactly as a
web server in front of git would. Repositories are published by name under a
project root; a published working repository serves its commits the moment
they are made.

It listens on 127.0.0.1 only. A repository published with
``credentials=(user, password)`` requires HTTP basic auth (401 with a
``WWW-Authenticate`` challenge otherwise, like a forge); the others need no
authentication. Pushing is refused unless the server is made with
``allow_push=True`` (tests push to it; the quickstart's readers only fetch):
``git http-backend`` allows receive-pack only when ``REMOTE_USER`` is set.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

_CGI_TIMEOUT = 120


def _git_exec_path() -> Path:
    out = subprocess.run(["git", "--exec-path"], check=True, capture_output=True, text=True)
    return Path(out.stdout.strip())


class GitHttpServer:
    """``git http-backend`` behind a threaded HTTP server on 127.0.0.1."""

    def __init__(
        self,
        project_root: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        allow_push: bool = False,
    ) -> None:
        self.project_root = project_root
        self.allow_push = allow_push
        self.project_root.mkdir(parents=True, exist_ok=True)
        self.backend = _git_exec_path() / "git-http-backend"
        self.requests: list[tuple[str, str]] = []  # (method, path with query), for tests
        self.protected: dict[str, tuple[str, str]] = {}  # repo name -> (user, password)
        self.refused = 0  # requests answered 401, for tests
        handler = type("Handler", (_CgiHandler,), {"git_server": self})
        self._httpd = ThreadingHTTPServer((host, port), handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="git-http-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def publish(
        self,
        repo_path: Path,
        name: str | None = None,
        *,
        credentials: tuple[str, str] | None = None,
    ) -> str:
        """Serve the repository at ``repo_path`` (bare or not) and return its URL.

        The repository is linked, not copied: later commits are served at once.
        With ``credentials`` (user, password) it requires basic auth.
        """
        name = name or repo_path.name
        if not name.endswith(".git"):
            name += ".git"
        if credentials is None:
            self.protected.pop(name, None)
        else:
            self.protected[name] = credentials
        link = self.project_root / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(repo_path.resolve(), target_is_directory=True)
        return f"{self.base_url}/{name}"

    def authorized(self, path: str, authorization: str | None) -> bool:
        """Whether a request for ``path`` may pass (always, for unprotected repos)."""
        name = path.lstrip("/").split("/", 1)[0]
        expected = self.protected.get(name)
        if expected is None:
            return True
        scheme, _, encoded = (authorization or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(given, f"{expected[0]}:{expected[1]}".encode())

    def cgi_environment(self, handler: BaseHTTPRequestHandler, body_length: int) -> dict[str, str]:
        path, _, query = handler.path.partition("?")
        env = {
            key: value
            for key, value in os.environ.items()
            if key in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
        }
        env.update(
            {
                "GIT_PROJECT_ROOT": str(self.project_root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "GATEWAY_INTERFACE": "CGI/1.1",
                "SERVER_PROTOCOL": "HTTP/1.1",
                "REQUEST_METHOD": handler.command,
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "CONTENT_TYPE": handler.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(body_length),
                "REMOTE_ADDR": handler.client_address[0],
            }
        )
        if self.allow_push:
            # http-backend allows receive-pack (push) for an authenticated user only.
            env["REMOTE_USER"] = "driftless-dev"
        for header, var in (
            ("Git-Protocol", "GIT_PROTOCOL"),
            ("Content-Encoding", "HTTP_CONTENT_ENCODING"),
        ):
            value = handler.headers.get(header)
            if value:
                env[var] = value
        return env


class _CgiHandler(BaseHTTPRequestHandler):
    git_server: GitHttpServer
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        self._run_backend()

    def do_POST(self) -> None:
        self._run_backend()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests would drown in access logs."""

    def _run_backend(self) -> None:
        self.git_server.requests.append((self.command, self.path))
        body = self._read_body()
        if not self.git_server.authorized(self.path, self.headers.get("Authorization")):
            self.git_server.refused += 1
            self.send_response(401, "Unauthorized")
            self.send_header("WWW-Authenticate", 'Basic realm="driftless-test"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        env = self.git_server.cgi_environment(self, len(body))
        proc = subprocess.run(
            [str(self.git_server.backend)],
            input=body,
            env=env,
            capture_output=True,
            timeout=_CGI_TIMEOUT,
            check=False,
        )
        status, headers, payload = parse_cgi_response(proc.stdout)
        if proc.returncode != 0 and not proc.stdout:
            status = (500, "git http-backend failed")
            payload = proc.stderr
        self.send_response(*status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                # trailers end with an empty line
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()  # CRLF after each chunk


def parse_cgi_response(raw: bytes) -> tuple[tuple[int, str], list[tuple[str, str]], bytes]:
    """Split a CGI response into (status, headers, body); ``Status:`` sets the code."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = raw.partition(b"\n\n")
    status = (200, "OK")
    headers: list[tuple[str, str]] = []
    for line in head.decode("latin-1").splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not key:
            continue
        if key.lower() == "status":
            code, _, reason = value.partition(" ")
            status = (int(code), reason)
        elif key.lower() != "content-length":
            headers.append((key, value))
    return status, headers, body
