"""The admin kubeconfig of a dev cluster.

Certificates are embedded (``*-data`` fields) so the file is self-contained:
it can be copied, or read by any client library, without the PKI directory.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import yaml

from driftless.devcluster.pki import Pki


def render(server: str, pki: Pki, *, name: str) -> dict[str, Any]:
    """The kubeconfig document for ``server`` authenticated as the admin cert."""

    def data(path: Path) -> str:
        return base64.b64encode(path.read_bytes()).decode()

    context = f"driftless-{name}"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": context,
                "cluster": {"server": server, "certificate-authority-data": data(pki.ca_cert)},
            }
        ],
        "users": [
            {
                "name": f"{context}-admin",
                "user": {
                    "client-certificate-data": data(pki.admin_cert),
                    "client-key-data": data(pki.admin_key),
                },
            }
        ],
        "contexts": [
            {
                "name": context,
                "context": {"cluster": context, "user": f"{context}-admin", "namespace": "default"},
            }
        ],
        "current-context": context,
        "preferences": {},
    }


def write(path: Path, server: str, pki: Pki, *, name: str) -> Path:
    """Write the kubeconfig to ``path`` (mode 0600: it holds a private key)."""
    text = yaml.safe_dump(render(server, pki, name=name), sort_keys=False)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path
