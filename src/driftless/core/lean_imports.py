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
  ``kubernetes_asyncio.client.V1Pod``) still works, it only pays later. Dunder
  names count as "any other" (``__version__``, ``__all__``), except the import
  system's own (``__path__``, ``__spec__``, ...), which the ``__init__`` never
  sets and which tools probe: those stay plain ``AttributeError``s.
* Thread-safe: one thread runs the ``__init__`` under the package's lock while
  the others wait for it to finish, so none sees a half-initialised package.
  The lock is re-entrant: the ``__init__`` importing its own submodules (or
  asking its module for a name it has not set yet) gets what a normal import
  would, not a deadlock.
* A package already imported is left alone (nothing is lost, nothing saved).
  Parents of a dotted ``name`` are made lazy first, with nothing light.

``install()`` applies it to the packages above; ``driftless/__init__.py``
calls it, so it is in place before any module of the package imports them.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from collections.abc import Mapping, Sequence
from typing import Any

# Set by the import system from the spec, never by a package's ``__init__``: running
# the ``__init__`` cannot supply them, and tools probe them on every module.
_IMPORT_SYSTEM_DUNDERS = frozenset(
    {"__path__", "__spec__", "__file__", "__loader__", "__name__", "__package__", "__cached__"}
)


class _LazyPackage(types.ModuleType):
    """A package module whose ``__init__`` runs on the first attribute it lacks."""

    def __getattr__(self, attr: str) -> Any:
        if attr in _IMPORT_SYSTEM_DUNDERS or self._init_done_or_mine():
            raise self._missing(attr)
        if not attr.startswith("__"):  # a dunder is the package's own (``__version__``)
            found = self._light(attr)
            if found is not None:
                setattr(self, attr, found[0])
                return found[0]
        self._run_init()
        # The plain lookup now: it also honours a module ``__getattr__`` the ``__init__`` set.
        return super().__getattribute__(attr)

    def _missing(self, attr: str) -> AttributeError:
        return AttributeError(f"module {self.__name__!r} has no attribute {attr!r}")

    def _init_done_or_mine(self) -> bool:
        """The real ``__init__`` has run, or is running in this thread (re-entry from it).

        Read without the lock: the owner is set under it before the ``__init__``
        starts, so a thread can only ever match its own id here."""
        state = self.__dict__
        return bool(state.get("_lean_loaded")) or state.get("_lean_owner") == threading.get_ident()

    def _run_init(self) -> None:
        """Run the real ``__init__`` in this module, once, whichever thread asks first."""
        state = self.__dict__
        with state["_lean_lock"]:
            if state.get("_lean_loaded"):
                return  # another thread ran it while this one waited
            state["_lean_owner"] = threading.get_ident()
            try:
                state["__spec__"].loader.exec_module(self)
                state["_lean_loaded"] = True
            finally:
                # On failure the next access retries, as a re-import would.
                del state["_lean_owner"]

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
    module.__dict__["_lean_lock"] = threading.RLock()
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
