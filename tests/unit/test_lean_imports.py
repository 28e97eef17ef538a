"""core.lean_imports: the heavy parts of kubernetes_asyncio, cel and httpx stay unloaded
until something asks for them, and then everything still works."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.fixtures.interpreter import run_fresh


def test_the_controller_imports_none_of_the_heavy_parts() -> None:
    out = run_fresh("""
        import sys
        import driftless.cli.controller
        # cryptography (~9 MiB) only for a Helm lookup's TLS or the dev cluster's PKI.
        heavy = ["kubernetes_asyncio.client.models.v1_pod", "kubernetes_asyncio.client.api",
                 "cel.cli", "rich", "pygments", "prompt_toolkit", "cryptography",
                 "driftless.devcluster.cluster"]
        print(sorted(m for m in heavy if m in sys.modules))
    """)
    assert out == "[]"


def test_the_light_parts_are_the_real_ones() -> None:
    out = run_fresh("""
        import driftless
        from kubernetes_asyncio import client
        from kubernetes_asyncio.client.api_client import ApiClient
        from kubernetes_asyncio.client.configuration import Configuration
        import cel, cel.cel
        print(client.ApiClient is ApiClient, client.Configuration is Configuration,
              cel.compile is cel.cel.compile)
        print(cel.compile("1 + x").execute(cel.Context(variables={"x": 2})))
    """)
    assert out.splitlines() == ["True True True", "3"]


def test_asking_for_anything_else_loads_the_whole_package() -> None:
    out = run_fresh("""
        import sys
        import driftless
        from kubernetes_asyncio import client
        pod = client.V1Pod(metadata=client.V1ObjectMeta(name="p"))
        import kubernetes_asyncio
        print(pod.metadata.name, kubernetes_asyncio.watch.Watch.__name__,
              "kubernetes_asyncio.client.models.v1_pod" in sys.modules)
    """)
    assert out == "p Watch True"


def test_a_package_imported_before_driftless_is_left_whole() -> None:
    out = run_fresh("""
        import kubernetes_asyncio.client as before
        import driftless
        import kubernetes_asyncio.client as after
        print(before is after, type(after).__name__, hasattr(after, "V1Pod"))
    """)
    assert out == "True module True"


def test_a_missing_attribute_is_still_an_attribute_error() -> None:
    out = run_fresh("""
        import driftless
        from kubernetes_asyncio import client
        try:
            client.NoSuchThing
        except AttributeError as exc:
            print("AttributeError", "NoSuchThing" in str(exc))
    """)
    assert out == "AttributeError True"


def test_many_threads_asking_at_once_all_get_the_whole_package() -> None:
    # Before the lock, the first thread marked the package loaded before its
    # __init__ finished and most of the others got AttributeError.
    out = run_fresh("""
        import threading
        import driftless
        from kubernetes_asyncio import client
        barrier, got, errors = threading.Barrier(8), [], []
        def ask():
            barrier.wait()
            try:
                got.append(client.V1Pod)
            except Exception as exc:
                errors.append(repr(exc))
        threads = [threading.Thread(target=ask) for _ in range(8)]
        [t.start() for t in threads]
        [t.join(timeout=60) for t in threads]
        print(errors, len(got), len({id(c) for c in got}), got[0].__name__)
    """)
    assert out == "[] 8 1 V1Pod"


PACKAGES = {
    # slowpkg: an __init__ that takes a while and imports its own submodules (re-entry);
    # flakypkg: an __init__ that fails the first time only.
    "slowpkg/__init__.py": """
        import time
        from . import counter
        counter.runs += 1
        time.sleep(0.2)
        from .part import PART
        WHOLE = "whole"
        __version__ = "1.2.3"
    """,
    "slowpkg/counter.py": "runs = 0\n",
    "slowpkg/part.py": "PART = 'part'\n",
    "flakypkg/__init__.py": """
        import os
        if not os.environ.pop("FLAKY_ONCE_DONE", None):
            os.environ["FLAKY_ONCE_DONE"] = "1"
            raise RuntimeError("first import fails")
        WHOLE = "whole"
    """,
}


def run_with_packages(tmp_path: Path, code: str) -> str:
    for name, text in PACKAGES.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text))
    return run_fresh(f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n" + textwrap.dedent(code))


def test_the_init_runs_once_while_the_other_threads_wait(tmp_path: Path) -> None:
    out = run_with_packages(
        tmp_path,
        """
        import threading
        from driftless.core.lean_imports import lazy_package
        lazy_package("slowpkg")
        import slowpkg
        barrier, got = threading.Barrier(6), []
        def ask():
            barrier.wait()
            got.append((slowpkg.WHOLE, slowpkg.PART))
        threads = [threading.Thread(target=ask) for _ in range(6)]
        [t.start() for t in threads]
        [t.join(timeout=30) for t in threads]
        print(sorted(set(got)), len(got), slowpkg.counter.runs)
    """,
    )
    assert out == "[('whole', 'part')] 6 1"


def test_an_init_that_fails_fails_loudly_and_is_retried(tmp_path: Path) -> None:
    out = run_with_packages(
        tmp_path,
        """
        from driftless.core.lean_imports import lazy_package
        lazy_package("flakypkg")
        import flakypkg
        try:
            flakypkg.WHOLE
        except RuntimeError as exc:
            print("RuntimeError", exc)
        print(flakypkg.WHOLE)
    """,
    )
    assert out.splitlines() == ["RuntimeError first import fails", "whole"]


def test_a_dunder_of_the_package_runs_its_init(tmp_path: Path) -> None:
    out = run_with_packages(
        tmp_path,
        """
        import importlib.metadata
        import driftless, kubernetes_asyncio
        print(kubernetes_asyncio.__version__ == importlib.metadata.version("kubernetes_asyncio"))
        from driftless.core.lean_imports import lazy_package
        lazy_package("slowpkg")
        import slowpkg
        print(slowpkg.__version__, slowpkg.__all__ if hasattr(slowpkg, "__all__") else "no __all__")
    """,
    )
    assert out.splitlines() == ["True", "1.2.3 no __all__"]


def test_the_import_systems_dunders_do_not_run_the_init() -> None:
    out = run_fresh("""
        import sys
        import driftless
        from kubernetes_asyncio import client
        import cel
        probed = [getattr(m, d, None) is not None for m in (client, cel)
                  for d in ("__path__", "__spec__", "__file__", "__loader__", "__name__")]
        print(all(probed), hasattr(client, "__cached__") == (client.__spec__.cached is not None))
        print("kubernetes_asyncio.client.models.v1_pod" in sys.modules, "cel.cli" in sys.modules)
    """)
    assert out.splitlines() == ["True True", "False False"]
