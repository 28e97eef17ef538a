"""Root pytest configuration: registers the fixtures of the real parts."""

import os

# Tests render with the pinned kustomize/helm only, never whatever is on PATH
# (driftless.cli.tools); set before any test starts a CLI process, which inherits it.
os.environ["DRIFTLESS_PINNED_TOOLS"] = "require"

pytest_plugins = [
    "tests.fixtures.devcluster",
    "tests.fixtures.git",
    "tests.fixtures.forge",  # ``forge``: pushes that call webhooks, commit-status APIs
    "tests.fixtures.gitea",  # ``gitea``: a real Gitea, built on first use
    "tests.fixtures.ssh_server",
    "tests.integration.ui_harness",  # the browser tests' shared ``screenshots``
]
