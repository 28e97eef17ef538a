"""Import a third-party package's working parts without its eager ``__init__``.

Why: two dependencies load far more than driftless uses, and the controller
pays for it in resident memory on every replica (measured with
``bench/scale_bench.py``; ``python -c "import X"`` max RSS):

* ``kubernetes_asyncio``: its ``__init__`` imports ``client``, whose own
  imports every generated API and model class (about 1,100 modules, ~60 MiB).
  ``kube.client`` uses only ``Configuration``, ``ApiClient``, ``rest`` and
  ``exceptions`` (bodies are plain JSON), plus ``config`` (kubeconfig loading).
* ``cel`` (common-expression-language): its ``__init__`` imports its command
  line (``cel.cli``: typer, rich, prompt_toolkit, pygments, ~30 MiB) next to the
  Rust extension ``cel.cel`` that ``health.expressions`` uses.
* ``httpx``: its ``__init__`` imports its command line (``httpx._main``: rich,
  pygments, click's extras) when installed; it falls back to a stub ``main``
  when that import fails, which ``install`` makes it do (``sys.modules[name] =
  None``): driftless never runs ``httpx`` as a command.

Contract of ``lazy_package(name, light={submodule: names})``:

* ``sys.modules[name]`` becomes the package's module object with its real
  spec and ``__path__`` but its ``__init__`` not run, and nothing imported
  yet: a process that never uses the package pays nothing.
* Asking the package for a submodule imports just that submodule; for a name
  of ``light`` (``"*"``: any name the submodule has), imports its submodule
  and hands that name over, as the real ``__init__`` would have.
* Asking it for any other attribute runs the real ``__init__`` then, once, in
  the same module object: code that uses the whole package (tests,
  ``kubernetes_asyncio.client.V1Pod``) still works, it only pays later.
* A package already imported is left alone (nothing is lost, nothing saved).
  Parents of a dotted ``name`` are made lazy first, with nothing light.

``install()`` applies it to the packages above; ``driftless/__init__.py``
calls it, so it is in place before any module of the package imports them.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from collections.abc import Mapping, Sequence
from typing import Any


class _LazyPackage(types.ModuleType):
    """A package module whose ``__init__`` runs on the first attribute it lacks."""

    def __getattr__(self, attr: str) -> Any:
        state = self.__dict__
        if state.get("_lean_loaded") or attr.startswith("__"):
            raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r}")
        found = self._light(attr)
        if found is not None:
            setattr(self, attr, found[0])
            return found[0]
        state["_lean_loaded"] = True
        spec = state["__spec__"]
        spec.loader.exec_module(self)  # the real __init__, in this same module
        return getattr(self, attr)

    def _light(self, attr: str) -> tuple[Any] | None:
        """``(value,)`` of a submodule or a light name, without the ``__init__``."""
        name = self.__name__
        if importlib.util.find_spec(f"{name}.{attr}") is not None:
            return (importlib.import_module(f"{name}.{attr}"),)
        light: Mapping[str, Sequence[str]] = self.__dict__.get("_lean_light", {})
        for submodule, names in light.items():
            if attr in names or list(names) == ["*"]:
                loaded = importlib.import_module(f"{name}.{submodule}")
                if hasattr(loaded, attr) and not attr.startswith("_"):
                    return (getattr(loaded, attr),)
        return None


def lazy_package(name: str, light: Mapping[str, Sequence[str]] | None = None) -> None:
    """Put package ``name`` in ``sys.modules`` without running its ``__init__`` (see above)."""
    found = sys.modules.get(name)
    if found is not None:
        if isinstance(found, _LazyPackage):
            found.__dict__["_lean_light"] = dict(light or {})  # made lazy as a parent first
        return
    parent, _, child = name.rpartition(".")
    if parent:
        lazy_package(parent)
    try:
        spec = importlib.util.find_spec(name)
    except ImportError:
        return
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return  # not installed, or not a package: nothing to make lazy
    module = importlib.util.module_from_spec(spec)
    module.__class__ = _LazyPackage
    module.__dict__["_lean_light"] = dict(light or {})
    sys.modules[name] = module
    if parent:
        setattr(sys.modules[parent], child, module)  # what the import system would do


def install() -> None:
    """Make ``kubernetes_asyncio``, ``cel`` and ``httpx`` lean for the whole process
    (idempotent)."""
    # The models first: ``api_client`` imports that package (and needs none of it).
    lazy_package("kubernetes_asyncio.client.models")
    lazy_package(
        "kubernetes_asyncio.client",
        {
            "exceptions": ["ApiException", "ApiValueError"],
            "configuration": ["Configuration"],
            "api_client": ["ApiClient"],
        },
    )
    lazy_package("cel", {"cel": ["*"]})
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
