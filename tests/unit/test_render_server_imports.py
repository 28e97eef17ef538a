"""The render server loads only what rendering needs.

Why it matters: the render server forks one child per render, and a fork costs
in proportion to the parent's memory (page tables, copy-on-write faults). The
Helm lookup proxy (``render.lookup_server``: aiohttp's server, the kube client,
kubernetes_asyncio) runs in the planning process only, so the render server
must not import it; a lookup render still finds it where it plans.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from driftless.core.errors import RenderError
from driftless.core.models import ApplicationSource
from driftless.render import KubeTarget, RenderTools, render

# What the lookup proxy pulls in; none of it renders anything.
LOOKUP_ONLY = ["aiohttp", "aiohttp.web", "driftless.kube.client", "driftless.render.lookup_server"]


def modules_after(statement: str) -> dict[str, list[str]]:
    """Modules loaded by ``statement`` in a fresh interpreter: plain names, and the
    kubernetes_asyncio modules whose code really ran (``core.lean_imports`` leaves a
    package stub in ``sys.modules`` whose ``__init__`` has not run)."""
    code = textwrap.dedent(f"""
        import json, sys
        {statement}
        def ran(module):
            return not (type(module).__name__ == "_LazyPackage"
                        and not vars(module).get("_lean_loaded"))
        print(json.dumps({{
            "loaded": sorted(sys.modules),
            "kubernetes_asyncio": sorted(name for name, module in sys.modules.items()
                                         if name.split(".")[0] == "kubernetes_asyncio"
                                         and ran(module)),
        }}))
    """)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    loaded: dict[str, list[str]] = json.loads(done.stdout)
    return loaded


def test_the_render_server_imports_no_lookup_proxy_nor_kube_client() -> None:
    found = modules_after("import driftless.render.server")
    assert "driftless.render.worker" in found["loaded"]  # the statement did import it
    assert [name for name in LOOKUP_ONLY if name in found["loaded"]] == []
    assert found["kubernetes_asyncio"] == []


def test_the_probe_sees_the_lookup_proxy_where_it_is_imported() -> None:
    # The same probe on the planning side's import: it must be able to fail.
    found = modules_after("import driftless.render.lookup_server")
    assert [name for name in LOOKUP_ONLY if name in found["loaded"]] == LOOKUP_ONLY
    assert found["kubernetes_asyncio"] != []


async def test_a_lookup_render_outside_a_planner_is_still_refused(tmp_path: Path) -> None:
    # The lookup path imports the proxy's module when it runs: no grant here, so
    # the render is refused before helm starts, with the same message as ever.
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        yaml.safe_dump({"apiVersion": "v2", "name": "c", "version": "1.0.0"})
    )
    source = ApplicationSource.model_validate(
        {"repoURL": "file:///repo", "path": "chart", "helm": {"lookup": True}}
    )
    with pytest.raises(RenderError, match="cannot reach the app's destination cluster"):
        await render(
            source, tmp_path, chart, revision=None, app_name="c", namespace="default",
            kube=KubeTarget("v1.30.0"), tools=RenderTools(),
        )  # fmt: skip
