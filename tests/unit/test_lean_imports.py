"""core.lean_imports: the heavy parts of kubernetes_asyncio, cel and httpx stay unloaded
until something asks for them, and then everything still works."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run(code: str) -> str:
    """``code`` in a fresh interpreter (this one has imported everything already)."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def test_the_controller_imports_none_of_the_heavy_parts() -> None:
    out = run("""
        import sys
        import driftless.cli.controller
        heavy = ["kubernetes_asyncio.client.models.v1_pod", "kubernetes_asyncio.client.api",
                 "cel.cli", "rich", "pygments", "prompt_toolkit"]
        print(sorted(m for m in heavy if m in sys.modules))
    """)
    assert out == "[]"


def test_the_light_parts_are_the_real_ones() -> None:
    out = run("""
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
    out = run("""
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
    out = run("""
        import kubernetes_asyncio.client as before
        import driftless
        import kubernetes_asyncio.client as after
        print(before is after, type(after).__name__, hasattr(after, "V1Pod"))
    """)
    assert out == "True module True"


def test_a_missing_attribute_is_still_an_attribute_error() -> None:
    out = run("""
        import driftless
        from kubernetes_asyncio import client
        try:
            client.NoSuchThing
        except AttributeError as exc:
            print("AttributeError", "NoSuchThing" in str(exc))
    """)
    assert out == "AttributeError True"
