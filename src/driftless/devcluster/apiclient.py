"""A minimal synchronous HTTPS client for the dev cluster's own bootstrap calls.

The dev cluster needs only a handful of requests (``/readyz``, create a Node,
read Nodes and one ServiceAccount) before anyone else talks to it, and must
stay importable without the async client of ``driftless.kube``; the standard
library does this with the admin certificate in a few lines.

Failures are the classes of ``driftless.kube.errors`` (a pure module: it
does not load the async client), chosen by the same rule as ``KubeClient``.
"""

from __future__ import annotations

import http.client
import json
import ssl
import urllib.error
import urllib.request
from typing import Any

from driftless.devcluster.pki import Pki
from driftless.kube.errors import KubeApiError, KubeConflictError, error_class, unavailable

# What a failed request raises (a ``KubeApiError`` subclass; ``status`` 0 when unreachable).
ApiError = KubeApiError


class ApiClient:
    """Talks to one apiserver as the admin user."""

    def __init__(self, server: str, pki: Pki, *, timeout: float = 5.0) -> None:
        self.server = server.rstrip("/")
        self.timeout = timeout
        self._ssl = ssl.create_default_context(cafile=str(pki.ca_cert))
        self._ssl.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """Send one request; return the decoded JSON body (or text if not JSON).

        Raises :class:`ApiError` on a non-2xx answer or a connection failure.
        """
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.server}{path}", data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self._ssl) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:500]
            failure = error_class(exc.code, detail)
            raise failure(exc.code, f"{method} {path}: HTTP {exc.code}: {detail}") from exc
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            raise unavailable(f"{method} {path}: {exc}") from exc
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode(errors="replace")

    def get(self, path: str) -> Any:
        """GET ``path``."""
        return self.request("GET", path)

    def create(self, path: str, body: Any) -> Any:
        """POST ``body`` to the collection at ``path``; an existing object is not an error."""
        try:
            return self.request("POST", path, body)
        except KubeConflictError:
            return None
