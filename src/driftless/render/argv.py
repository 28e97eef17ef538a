"""Values that reach a renderer tool's command line, checked at the exec edge (pure).

Why here as well as in the CRD schema: values reach ``helm``/``kustomize``
from places the API server never validated (push mode's flags, the app name
used as the default release name, the destination's discovery answers), and
a value starting with ``-`` is an option to a tool — ``--post-renderer`` runs
a program, ``--set-file``/``--values`` read the controller's files. So every
argument built from input passes through here, whatever its origin.

Contract:

* ``safe_arg(value, what)`` returns ``value`` unchanged when no tool can take
  it for an option or an argv terminator: not starting with ``-``, no NUL
  byte (which the OS cannot pass and Python refuses with a crash). Otherwise
  ``RenderError`` naming ``what`` (the spec field), never echoing a value
  longer than a short excerpt.
* ``release_name``, ``namespace``, ``kube_version``, ``api_version``,
  ``set_name`` check a value against the tool's own rule (``core.names``) and
  then ``safe_arg``; each raises ``RenderError`` naming the field.
* Callers still pass option values as ``--flag=value`` and end option parsing
  with ``--`` where the tool supports it: a value can then never be an option,
  even if a check here were wrong.
"""

from __future__ import annotations

from driftless.core import names
from driftless.core.errors import RenderError

_SHOWN_MAX = 60


def shown(value: str) -> str:
    """``value`` for a message: quoted, and cut when long."""
    text = value if len(value) <= _SHOWN_MAX else value[:_SHOWN_MAX] + "..."
    return repr(text)


def safe_arg(value: str, what: str) -> str:
    """``value`` if no tool can read it as an option (see the module contract)."""
    if "\x00" in value:
        raise RenderError(f"{what}: contains a NUL character")
    if value.startswith("-"):
        raise RenderError(f"{what} {shown(value)} must not start with '-'")
    return value


def release_name(value: str, what: str = "spec.source.helm.releaseName") -> str:
    """A Helm release name as ``helm template`` accepts it."""
    problem = names.release_name_problem(value)
    if problem:
        raise RenderError(f"{what} {shown(value)} is not a valid Helm release name: {problem}")
    return safe_arg(value, what)


def namespace(value: str, what: str = "spec.source.helm.namespace") -> str:
    """A namespace name (DNS-1123 label)."""
    problem = names.namespace_problem(value)
    if problem:
        raise RenderError(f"{what} {shown(value)} is not a valid namespace: {problem}")
    return safe_arg(value, what)


def kube_version(value: str, what: str = "the destination's Kubernetes version") -> str:
    """A ``--kube-version`` value (a semantic version)."""
    if not names.matches(names.KUBE_VERSION_PATTERN, value):
        raise RenderError(f"{what} {shown(value)} is not a Kubernetes version such as v1.36.3")
    return safe_arg(value, what)


def api_version(value: str, what: str = "an API version of the destination") -> str:
    """A ``--api-versions`` value (``group/version`` or ``group/version/Kind``)."""
    if not names.matches(names.API_VERSION_PATTERN, value):
        raise RenderError(f"{what} {shown(value)} is not an API version such as apps/v1")
    return safe_arg(value, what)


def set_name(value: str, what: str = "spec.source.helm.parameters[].name") -> str:
    """A ``--set`` key path: no ``=``, ``,`` or white space; no leading ``-``."""
    if len(value) > names.SET_NAME_MAX or not names.matches(names.SET_NAME_PATTERN, value):
        raise RenderError(
            f"{what} {shown(value)} is not a Helm value path"
            " (no '=', ',' or spaces, not starting with '-')"
        )
    return safe_arg(value, what)
