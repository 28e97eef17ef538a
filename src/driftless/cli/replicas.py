"""``--shards``, ``--ha`` and ``--replica-id``: how a controller replica shares the work.

Without them one controller reconciles every app and writes no Lease (the
default, unchanged). ``--shards S`` splits the apps into S virtual shards
shared by every replica started with the same S (``controller.shards``);
``--ha`` is ``--shards 1``: one active replica (the holder of the only shard
Lease), the others take over within ~12 s when it dies. ``--replica-id``
names this replica among the others (in a Deployment: the pod's name through
the downward API, env ``POD_NAME``); default ``<hostname>-<pid>``.

``replicas_options`` adds the three options to a click command and hands the
command one validated ``Replicas`` value instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from driftless.controller import membership, sharding


@dataclass(frozen=True)
class Replicas:
    shards: int = 0  # 0: no sharding, no Leases
    replica_id: str = ""


def replicas_from(shards: int | None, ha: bool, replica_id: str | None) -> Replicas:
    """The validated choice; raises ``click.BadParameter`` on a bad one."""
    if ha and shards not in (None, 1):
        raise click.BadParameter("--ha is --shards 1; give one of them", param_hint="--ha")
    count = 1 if ha else (shards or 0)
    if shards is not None and not sharding.valid_shards(shards):
        raise click.BadParameter(f"must be 1..{sharding.MAX_SHARDS}", param_hint="--shards")
    if replica_id and not membership.valid_replica_id(replica_id):
        raise click.BadParameter(
            "lowercase letters, digits, '-' and '.', at most 200 (a pod name fits)",
            param_hint="--replica-id",
        )
    return Replicas(shards=count, replica_id=replica_id or "")


def replicas_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the options; the command receives ``replicas: Replicas``."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        chosen = replicas_from(kwargs.pop("shards"), kwargs.pop("ha"), kwargs.pop("replica_id"))
        return command(*args, replicas=chosen, **kwargs)

    options = [
        click.option(
            "--shards",
            type=int,
            default=None,
            envvar="DRIFTLESS_SHARDS",
            help="Share the apps with the other replicas started with the same number: the apps"
            " are split into this many shards, each held by one replica through a Lease"
            " (default: no sharding, this replica reconciles every app).",
        ),
        click.option(
            "--ha",
            is_flag=True,
            envvar="DRIFTLESS_HA",
            help="High availability: --shards 1, one active replica elected through a Lease,"
            " the others on standby.",
        ),
        click.option(
            "--replica-id",
            default=None,
            envvar=["DRIFTLESS_REPLICA_ID", "POD_NAME"],
            help="This replica's name among the others (default: <hostname>-<pid>).",
        ),
    ]
    decorated: Callable[..., Any] = wrapper
    for option in reversed(options):
        decorated = option(decorated)
    return decorated
