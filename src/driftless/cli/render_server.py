"""``driftless render-server``: serve renders on a Unix socket (the renderer container).

In a cluster the controller's pod runs this in a second container that has no
ServiceAccount token, and the controller is started with ``--render-socket``
pointing at the same socket in a shared ``emptyDir``. See
``driftless.render.server`` for what each render is allowed.
"""

from __future__ import annotations

from pathlib import Path

import click

from driftless.cli.options import Duration
from driftless.cli.tools import local_tools
from driftless.render import server
from driftless.render.context import DEFAULT_TIME_LIMIT


@click.command("render-server")
@click.option(
    "--socket",
    "socket_path",
    type=click.Path(path_type=Path),
    required=True,
    help="Unix socket to listen on.",
)
@click.option(
    "--time-limit",
    type=Duration(positive=True),
    default=DEFAULT_TIME_LIMIT,
    show_default=True,
    help="Wall-clock time a render may take before its processes are killed (seconds, or"
    " e.g. 90s, 2m).",
)
@click.option(
    "--memory-limit",
    "memory_limit_mib",
    type=click.IntRange(min=1024),
    default=2048,
    show_default=True,
    help="Address-space limit of each render process, in MiB (helm and kustomize are Go"
    " programs, which reserve address space: at least 1024).",
)
@click.option(
    "--max-concurrent",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Renders that run at once; more wait in line.",
)
@click.option(
    "--scratch-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where private copies of trees are made (default: the system temp dir).",
)
def render_server_command(
    socket_path: Path,
    time_limit: float,
    memory_limit_mib: int,
    max_concurrent: int,
    scratch_dir: Path | None,
) -> None:
    """Render apps for a controller, each render in a child process with hard limits.

    \b
    Example:
      driftless render-server --socket /run/driftless/render.sock
    """
    tools = local_tools(service=True)
    tools = type(tools)(
        kustomize=tools.kustomize,
        helm=tools.helm,
        scratch_dir=scratch_dir,
        time_limit=time_limit,
    )
    limits = server.ServerLimits(
        time_limit=time_limit,
        memory_bytes=memory_limit_mib * server.MIB,
        max_concurrent=max_concurrent,
    )
    try:
        server.serve(socket_path, tools, limits)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {socket_path}: {exc.strerror}") from None
