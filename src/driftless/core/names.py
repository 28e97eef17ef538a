"""The syntaxes of names and values that reach a tool or the API server (pure).

One place for each rule, so the CRD schema (``pattern``/``maxLength`` on the
pydantic models, enforced by the API server at admission) and the exec edge
of ``render`` (``render.argv``, defence in depth for values that did not come
through the CRD: push mode, defaults, discovery answers) check the same thing.

Every pattern is anchored and written in the regular-expression subset that
Go's RE2 (the API server), Python's ``re`` and pydantic's Rust engine read the
same way. None of them accepts a value starting with ``-``, so no value that
passes can be read as an option by a tool.

Rules, each the one the tool or Kubernetes itself applies:

* Helm release name: Helm's ``ValidateReleaseName`` — DNS-1123 labels joined
  by dots, at most 53 characters.
* Namespace: a DNS-1123 label, at most 63 characters.
* ``--kube-version``: a semantic version, ``v`` prefix allowed.
* ``--api-versions``: ``group/version`` or ``group/version/Kind``.
* ``--set`` names: Helm's key paths; no ``=``, ``,`` or white space (Helm
  would split there) and no leading ``-``.
* Chart names: path segments of letters, digits, ``.``, ``_``, ``-``.
* Kustomize overrides: image references, name prefixes/suffixes (name
  characters only), label keys and values as Kubernetes validates them.
"""

from __future__ import annotations

import re
from typing import Final

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"

RELEASE_NAME_PATTERN: Final = rf"^{_LABEL}(\.{_LABEL})*$"
RELEASE_NAME_MAX: Final = 53
NAMESPACE_PATTERN: Final = rf"^{_LABEL}$"
NAMESPACE_MAX: Final = 63
KUBE_VERSION_PATTERN: Final = r"^v?[0-9]+(\.[0-9]+){0,2}([-+][0-9A-Za-z.+-]*)?$"
API_VERSION_PATTERN: Final = r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(/[A-Za-z0-9.-]+){0,2}$"
SET_NAME_PATTERN: Final = r"^[^-=,\s][^=,\s]*$"
SET_NAME_MAX: Final = 512
CHART_NAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$"
CHART_NAME_MAX: Final = 250
VALUE_FILE_PATTERN: Final = r"^[^-/\s].*$"
PATH_MAX: Final = 4096
IMAGE_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._/:@=-]*$"
IMAGE_MAX: Final = 512
# A prefix starts and a suffix ends an object name: alphanumeric there.
NAME_PREFIX_PATTERN: Final = r"^([a-z0-9][-a-z0-9.]*)?$"
NAME_SUFFIX_PATTERN: Final = r"^([-a-z0-9.]*[a-z0-9])?$"
NAME_AFFIX_MAX: Final = 200
LABEL_VALUE_PATTERN: Final = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
LABEL_VALUE_MAX: Final = 63
_LABEL_KEY_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
LABEL_KEY_PATTERN: Final = rf"^({_LABEL}(\.{_LABEL})*/)?{_LABEL_KEY_NAME}$"
_LABEL_KEY_PREFIX_MAX = 253
_LABEL_KEY_NAME_MAX = 63


def matches(pattern: str, value: str) -> bool:
    """Whether all of ``value`` matches ``pattern`` (``$`` may not match before a newline)."""
    return re.fullmatch(pattern.removeprefix("^").removesuffix("$"), value) is not None


def release_name_problem(value: str) -> str | None:
    """Why ``value`` is not a Helm release name, or ``None`` when it is one."""
    if len(value) > RELEASE_NAME_MAX:
        return f"longer than {RELEASE_NAME_MAX} characters"
    if not matches(RELEASE_NAME_PATTERN, value):
        return "not lower-case letters, digits, '-' and '.' (DNS-1123, as Helm requires)"
    return None


def namespace_problem(value: str) -> str | None:
    """Why ``value`` is not a namespace name, or ``None`` when it is one."""
    if len(value) > NAMESPACE_MAX:
        return f"longer than {NAMESPACE_MAX} characters"
    if not matches(NAMESPACE_PATTERN, value):
        return "not a DNS-1123 label (lower-case letters, digits and '-')"
    return None


def label_key_problem(key: str) -> str | None:
    """Why ``key`` is not a Kubernetes label/annotation key, or ``None``."""
    prefix, _, name = key.rpartition("/")
    if len(prefix) > _LABEL_KEY_PREFIX_MAX or len(name) > _LABEL_KEY_NAME_MAX:
        return "too long (prefix at most 253, name at most 63 characters)"
    if not matches(LABEL_KEY_PATTERN, key):
        return "not a valid key ([prefix/]name of letters, digits, '-', '_', '.')"
    return None
