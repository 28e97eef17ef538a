"""``--NAME/--no-NAME`` switches that refuse to be given both ways.

Click keeps the last of ``--x`` and ``--no-x`` when a command line has both.
For a switch that grants something (``--allow-helm-lookup``) such a line is
more likely a mistake (a flag appended by a script, a copied example) than a
choice, so these switches make it a usage error instead of guessing.

* ``toggle_option(name, help)``: the decorator; the command's parameter
  (``name`` with ``-`` as ``_``) receives a tuple of the values given, in order
  (``()`` when neither flag is), so "not given" stays distinguishable from off.
* ``toggle_value(values, name)``: that tuple → ``True``, ``False`` or ``None``
  (neither given); ``click.UsageError`` naming both flags when they disagree.
  Repeating the same flag is harmless.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click


def toggle_option(name: str, help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--name/--no-name``, collected as a tuple so a contradiction can be seen."""
    return click.option(
        f"--{name}/--no-{name}", name.replace("-", "_"), multiple=True, help=help_text
    )


def toggle_value(values: tuple[bool, ...], name: str) -> bool | None:
    """What the flags say: on, off, or ``None`` when neither was given."""
    if not values:
        return None
    if len(set(values)) > 1:
        raise click.UsageError(f"--{name} and --no-{name} contradict each other: give one")
    return values[0]
