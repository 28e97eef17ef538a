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
  spec and ``__path__`` (so its submodules import as usual) but its
  ``__init__`` not run; each ``submodule`` of ``light`` is imported and its
  ``names`` (``"*"``: its public names) are set on the package, as the real
  ``__init__`` would have.
* Asking the package for any other attribute runs the real ``__init__`` then,
  once, in the same module object: code that uses the whole package (tests,
  ``kubernetes_asyncio.client.V1Pod``) still works, it only pays later.
* A package already imported is left alone (nothing is lost, nothing saved).
  Parents of a dotted ``name`` are made lazy first, with nothing light.

``install()`` applies it to the packages above; importing
``driftless.kube`` and ``driftless.health`` calls it, before their modules
import those packages.
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
        state["_lean_loaded"] = True
        spec = state["__spec__"]
        spec.loader.exec_module(self)  # the real __init__, in this same module
        return getattr(self, attr)


def lazy_package(name: str, light: Mapping[str, Sequence[str]] | None = None) -> None:
    """Put package ``name`` in ``sys.modules`` without running its ``__init__`` (see above)."""
    found = sys.modules.get(name)
    if found is not None:
        if isinstance(found, _LazyPackage) and not found.__dict__.get("_lean_loaded"):
            _fill(found, light or {})  # made lazy as a parent first: now its light parts
        return
    parent, _, child = name.rpartition(".")
    if parent:
        lazy_package(parent)
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return  # not installed, or not a package: nothing to make lazy
    module = importlib.util.module_from_spec(spec)
    module.__class__ = _LazyPackage
    sys.modules[name] = module
    if parent:
        setattr(sys.modules[parent], child, module)  # what the import system would do
    _fill(module, light or {})


def _fill(module: types.ModuleType, light: Mapping[str, Sequence[str]]) -> None:
    """Import the light submodules and set their names on the package."""
    for submodule, names in light.items():
        loaded = importlib.import_module(f"{module.__name__}.{submodule}")
        wanted = _public(loaded) if list(names) == ["*"] else names
        for attr in wanted:
            setattr(module, attr, getattr(loaded, attr))


def _public(module: types.ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in dir(module) if not n.startswith("_")]
    return list(names)


def install() -> None:
    """Make ``kubernetes_asyncio`` and ``cel`` lean for the whole process (idempotent)."""
    # The models first: ``api_client`` imports that package (and needs none of it).
    lazy_package("kubernetes_asyncio.client.models")
    lazy_package(
        "kubernetes_asyncio.client",
        {
            "exceptions": ["ApiException", "ApiValueError"],
            "configuration": ["Configuration"],
            "rest": [],
            "api_client": ["ApiClient"],
        },
    )
    lazy_package("cel", {"cel": ["*"]})
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
