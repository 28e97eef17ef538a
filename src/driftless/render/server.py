"""The render server: every render in a forked child with hard limits.

Why: rendering runs code a repository author wrote (YAML parsers in C, Helm
templates, Jsonnet programs, kustomize). A crash, a hang or a memory blow-up
there must cost one app one render, never the controller; and in a cluster
the renderer must not hold the controller's ServiceAccount token.

Contract of ``serve(socket_path, tools, limits)`` (blocking, single-threaded,
so forking is safe):

* Listens on a Unix socket (mode 0600). A client sends one request frame
  (``wire``: 8-byte length + JSON, at most ``wire.MAX_REQUEST_BYTES``) per
  connection; the server reads it, then forks a child that renders it
  (``worker.answer``) and writes the reply frame on the connection itself.
  Children are forked from this process with every module already imported:
  no interpreter start per render. Only what rendering needs is imported
  (not the Helm lookup proxy's server, the kube client, kubernetes_asyncio:
  ``tests/unit/test_render_server_imports.py``): a fork costs in proportion
  to this process's memory.
* Each child gets its own process group and, before rendering:
  ``RLIMIT_AS`` (``memory_bytes``), ``RLIMIT_CPU`` (the time limit), no core
  files, a file-size limit; tools it starts stay in its group
  (``exec.stay_in_process_group``).
* Deadline: ``min(request time limit, limits.time_limit)`` of wall-clock
  time from the fork. Past it the server SIGKILLs the child's whole process
  group and answers ``TransientError("render exceeded the N s time limit")``.
  A child that dies by a signal is answered ``RenderError("renderer crashed
  (signal 11, SIGSEGV)")``; one that ran out of memory, "render exceeded the
  memory limit of N MiB". A client that hangs up cancels its render (the
  group is killed). Every child is reaped; nothing outlives its render.
* A child's stderr comes back through a pipe: its first 64 KiB go to the
  server's log, and its end is read for the words native code prints when an
  allocation fails (Jsonnet aborts), so that death says "memory limit".
* At most ``max_concurrent`` children run at once; further requests wait in
  arrival order. Before serving, one tiny render warms the server up, so
  lazily built state is inherited by every child instead of rebuilt in each.
* Batches: plain-directory renders (YAML files read and parsed with bounds,
  no tool and no code of the repository run) take at most as many children
  at once as there are cores (a child past ``_QUICK_SECONDS`` no longer
  counts); the ones that wait share those children, up to ``BATCH_MAX`` each,
  one after the other, so the fork, its copy-on-write faults and its exit,
  most of such a render's cost, are paid once for the batch. Every other
  render has a child of its own, started in arrival order as soon as a slot
  is free. A batch child says on a pipe when it starts sending each answer;
  if it dies or runs past its deadline (the smallest time limit of
  its members), the members it had not started answering wait again, at the
  head of the queue, each to be rendered alone: whatever killed the batch is
  reported to its own render only, and the others lose nothing but time. A
  member whose answer was being sent has its connection closed (the client
  sees a broken answer, a transient error).
* The server stops on SIGTERM/SIGINT, or when its stdin reaches EOF with
  ``exit_with_stdin`` (the controller that started it died or let go): running
  renders are killed and reaped, the socket removed.
* The process environment is whatever it was started with: the controller
  starts it with a scrubbed one (``render.isolation``), the in-cluster
  renderer container has no ServiceAccount token at all.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import errno
import gc
import json
import math
import os
import re
import resource
import selectors
import signal
import socket
import struct
import sys
import time
import traceback
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from driftless.core.errors import DriftlessError, RenderError, TransientError
from driftless.render import exec as tool_exec
from driftless.render import wire, worker
from driftless.render.context import DEFAULT_TIME_LIMIT, RenderTools
from driftless.render.detect import Renderer

MIB = 1024 * 1024
EXIT_OUT_OF_MEMORY = 3
EXIT_FAILED = 4
_REQUEST_READ_SECONDS = 10.0
_MAX_FILE_BYTES = 1024 * MIB
_BACKLOG = 1024
_STDERR_TAIL = 8 * 1024
_STDERR_FORWARD = 64 * 1024
#: Most renders one batch child runs (see the module contract).
BATCH_MAX = 16
#: A plain-directory child older than this is a slow one: it leaves its core to others.
_QUICK_SECONDS = 0.5
_MARK = struct.Struct(">H")  # a batch child's progress: the index of the answer it starts sending
_MEMORY_WORDS = re.compile(
    rb"memory allocation|bad_alloc|out of memory|MemoryError|Cannot allocate memory", re.I
)


@dataclass(frozen=True)
class ServerLimits:
    """Hard limits of every render."""

    time_limit: float = DEFAULT_TIME_LIMIT
    memory_bytes: int = 2048 * MIB
    max_concurrent: int = 8
    max_objects: int = 20_000
    max_output_bytes: int = worker.DEFAULT_MAX_OUTPUT_BYTES

    def output(self) -> worker.OutputLimits:
        return worker.OutputLimits(
            max_objects=self.max_objects,
            max_output_bytes=self.max_output_bytes,
            memory_bytes=self.memory_bytes,
        )


@dataclass
class _Incoming:
    """A connection whose request frame is still arriving."""

    conn: socket.socket
    since: float
    buffer: bytearray = field(default_factory=bytearray)


@dataclass(frozen=True)
class _Request:
    """A request read whole, waiting for a child."""

    conn: socket.socket
    body: bytes
    time_limit: float
    batchable: bool  # a plain-directory render: no tool, no code of the repository runs
    solo: bool = False  # its batch died: rendered alone from now on

    @property
    def shareable(self) -> bool:
        """May it share a child with other renders?"""
        return self.batchable and not self.solo


@dataclass
class _Job:
    """A running render child and the requests it answers (more than one: a batch)."""

    requests: list[_Request]
    pid: int
    deadline: float
    time_limit: float
    started: float = field(default_factory=time.monotonic)
    stderr: int = -1  # read end of the child's stderr pipe
    progress: int = -1  # read end of a batch child's progress pipe
    stderr_tail: bytearray = field(default_factory=bytearray)
    stderr_forwarded: int = 0
    expired: bool = False
    abandoned: set[int] = field(default_factory=set)  # members whose client hung up

    @property
    def batch(self) -> bool:
        return len(self.requests) > 1

    @property
    def shared(self) -> bool:
        """A plain-directory child: one of those limited to the cores."""
        return self.requests[0].shareable


@dataclass(frozen=True)
class _Member:
    """Selector tag of a job's request connection."""

    job: _Job
    index: int


@dataclass(frozen=True)
class _StderrOf:
    """Selector tag of a job's stderr pipe."""

    job: _Job


class _Server:
    def __init__(
        self, listener: socket.socket, tools: RenderTools, limits: ServerLimits, stdin: bool
    ) -> None:
        self.listener = listener
        self.tools = tools
        self.limits = limits
        self.selector = selectors.DefaultSelector()
        self.jobs: dict[int, _Job] = {}
        self.waiting: deque[_Request] = deque()
        self.cores = len(os.sched_getaffinity(0))
        self.stopping = False
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        self.selector.register(listener, selectors.EVENT_READ, "listen")
        self.selector.register(self.wake_r, selectors.EVENT_READ, "wake")
        self.stdin = stdin
        if stdin:
            self.selector.register(sys.stdin.fileno(), selectors.EVENT_READ, "stdin")

    # ------------------------------------------------------------------ loop

    def run(self) -> None:
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        # Everything imported so far is shared with every child: keep the
        # children's garbage collector off it, so it is never copied on write.
        gc.freeze()
        try:
            while not self.stopping:
                for key, _ in self.selector.select(self._timeout()):
                    self._dispatch(key)
                self._reap()
                self._expire()
                self._drop_slow_requests()
                self._start_waiting()
        finally:
            self._shutdown()

    def _stop(self, *_: object) -> None:
        self.stopping = True

    def _timeout(self) -> float:
        now = time.monotonic()
        deadlines = [job.deadline for job in self.jobs.values() if not job.expired]
        if self.waiting:
            # A plain-directory child turning slow frees its core for a waiting
            # render: wake up then (only for the future: a past one would spin).
            turns_slow = (job.started + _QUICK_SECONDS for job in self.jobs.values() if job.shared)
            deadlines += [moment for moment in turns_slow if moment > now]
        if not deadlines:
            return 1.0
        return max(0.0, min(1.0, min(deadlines) - now))

    def _dispatch(self, key: selectors.SelectorKey) -> None:
        data = key.data
        if data == "listen":
            self._accept()
        elif data == "wake":
            with contextlib.suppress(BlockingIOError):
                while os.read(self.wake_r, 512):
                    pass
        elif data == "stdin":
            if not os.read(sys.stdin.fileno(), 4096):
                self.stopping = True
        elif isinstance(data, _Incoming):
            self._read_request(data)
        elif isinstance(data, _Member):
            self._check_hangup(data)
        elif isinstance(data, _StderrOf):
            self._read_stderr(data.job)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            conn.setblocking(False)
            self.selector.register(conn, selectors.EVENT_READ, _Incoming(conn, time.monotonic()))

    def _read_request(self, incoming: _Incoming) -> None:
        try:
            chunk = incoming.conn.recv(64 * 1024)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._forget(incoming.conn)
            return
        incoming.buffer += chunk
        header = wire.HEADER.size
        if len(incoming.buffer) < header:
            return
        (length,) = wire.HEADER.unpack(incoming.buffer[:header])
        if length > wire.MAX_REQUEST_BYTES:
            self._refuse(incoming.conn, DriftlessError("render request too large"))
            return
        if len(incoming.buffer) < header + length:
            return
        body = bytes(incoming.buffer[header : header + length])
        self.selector.unregister(incoming.conn)
        self.waiting.append(self._request(incoming.conn, body))

    def _request(self, conn: socket.socket, body: bytes) -> _Request:
        """The request of ``body``: its time limit, and whether it may share a child."""
        try:
            data = json.loads(body)
            wanted = float(data["timeLimit"])
            batchable = data.get("renderer") == Renderer.DIRECTORY.value
        except Exception:  # malformed: a child of its own will say so
            wanted, batchable = self.limits.time_limit, False
        if not math.isfinite(wanted) or wanted <= 0:
            wanted = self.limits.time_limit
        return _Request(conn, body, min(wanted, self.limits.time_limit), batchable)

    def _drop_slow_requests(self) -> None:
        now = time.monotonic()
        for key in list(self.selector.get_map().values()):
            data = key.data
            if isinstance(data, _Incoming) and now - data.since > _REQUEST_READ_SECONDS:
                self._forget(data.conn)

    def _start_waiting(self) -> None:
        while len(self.jobs) < self.limits.max_concurrent:
            requests = self._next_child()
            if not requests:
                return
            self._fork(requests)

    def _next_child(self) -> list[_Request]:
        """The requests of the next child to start, taken from the queue; none when
        nothing waiting may start now.

        Plain-directory renders are short and all CPU: they take at most as many
        children at once as there are cores (more only take turns, each paying its
        fork again), and the ones that wait share those children, spread evenly.
        A child running for over ``_QUICK_SECONDS`` no longer counts, so a huge
        directory (one tenant's) does not hold the others' renders back.
        Any other render starts in arrival order as soon as a slot is free.
        """
        since = time.monotonic() - _QUICK_SECONDS
        sharing = sum(1 for job in self.jobs.values() if job.shared and job.started > since)
        spread = min(self.cores - sharing, self.limits.max_concurrent - len(self.jobs))
        for position, request in enumerate(self.waiting):
            if not request.shareable:
                del self.waiting[position]
                return [request]
            if spread > 0:
                shareable = sum(1 for waiting in self.waiting if waiting.shareable)
                return self._take_shareable(min(BATCH_MAX, math.ceil(shareable / spread)))
        return []

    def _take_shareable(self, count: int) -> list[_Request]:
        """Up to ``count`` waiting requests that may share a child, in arrival order;
        the others keep their places."""
        taken: list[_Request] = []
        kept: deque[_Request] = deque()
        for request in self.waiting:
            if len(taken) < count and request.shareable:
                taken.append(request)
            else:
                kept.append(request)
        self.waiting = kept
        return taken

    # ------------------------------------------------------------ children

    def _fork(self, requests: list[_Request]) -> None:
        time_limit = min(request.time_limit for request in requests)
        # The child's stderr comes back through a pipe: logged here, and read
        # for the words native code prints when an allocation fails.
        err_r, err_w = os.pipe()
        progress = os.pipe() if len(requests) > 1 else None
        pid = os.fork()
        if pid == 0:
            self._child(requests, time_limit, (err_r, err_w), progress)  # never returns
        os.close(err_w)
        os.set_blocking(err_r, False)
        if progress is not None:
            os.close(progress[1])
            os.set_blocking(progress[0], False)
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)  # also done by the child: whichever runs first wins the race
        job = _Job(requests, pid, time.monotonic() + time_limit, time_limit, stderr=err_r)
        job.progress = progress[0] if progress is not None else -1
        self.jobs[pid] = job
        for index, request in enumerate(requests):
            self.selector.register(request.conn, selectors.EVENT_READ, _Member(job, index))
        self.selector.register(err_r, selectors.EVENT_READ, _StderrOf(job))

    def _child(
        self,
        requests: list[_Request],
        time_limit: float,
        stderr: tuple[int, int],
        progress: tuple[int, int] | None,
    ) -> None:
        code = EXIT_FAILED
        try:
            os.setpgid(0, 0)
            os.dup2(stderr[1], 2)
            os.close(stderr[0])
            os.close(stderr[1])
            self._become_child({request.conn.fileno() for request in requests})
            marks = -1
            if progress is not None:
                os.close(progress[0])
                marks = progress[1]
            _apply_limits(self.limits.memory_bytes, time_limit)
            tool_exec.stay_in_process_group()
            for index, request in enumerate(requests):
                reply = worker.answer(request.body, self.tools, self.limits.output())
                _mark(marks, index)
                request.conn.setblocking(True)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    request.conn.sendall(reply)  # the client may have given up: nobody to tell
                request.conn.close()
            code = 0
        except MemoryError:
            code = EXIT_OUT_OF_MEMORY
        except BaseException:
            with contextlib.suppress(BaseException):
                traceback.print_exc(file=sys.stderr)
        finally:
            os._exit(code)

    def _become_child(self, keep: set[int]) -> None:
        """Drop what belongs to the server: signal handlers, the loop's descriptors."""
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        for key in list(self.selector.get_map().values()):
            if key.fd not in keep and key.data not in ("stdin",):
                with contextlib.suppress(OSError):
                    os.close(key.fd)
        self.selector.close()
        for job in self.jobs.values():  # pipes of other children, not in the selector
            if job.progress >= 0:
                with contextlib.suppress(OSError):
                    os.close(job.progress)
        for waiting in self.waiting:
            waiting.conn.close()
        with contextlib.suppress(OSError):
            os.close(self.wake_w)
        with contextlib.suppress(OSError):
            fd = os.open(os.devnull, os.O_RDONLY)
            os.dup2(fd, 0)
            os.close(fd)

    def _read_stderr(self, job: _Job) -> None:
        """Keep the end of a child's stderr; forward a bounded part of it to ours."""
        while job.stderr >= 0:
            try:
                chunk = os.read(job.stderr, 64 * 1024)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                chunk = b""
            if not chunk:
                with contextlib.suppress(KeyError, ValueError):
                    self.selector.unregister(job.stderr)
                os.close(job.stderr)
                job.stderr = -1
                return
            job.stderr_tail = (job.stderr_tail + chunk)[-_STDERR_TAIL:]
            if job.stderr_forwarded < _STDERR_FORWARD:
                part = chunk[: _STDERR_FORWARD - job.stderr_forwarded]
                job.stderr_forwarded += len(part)
                with contextlib.suppress(OSError):
                    sys.stderr.buffer.write(part)
                    sys.stderr.flush()

    def _check_hangup(self, member: _Member) -> None:
        """The client closed its end: nobody waits for this render any more; a
        child nobody waits for is killed.

        Bytes sent after the request are read and dropped (the child has its
        request already), so they cannot keep the connection readable forever.
        """
        job, conn = member.job, member.job.requests[member.index].conn
        try:
            data = conn.recv(64 * 1024, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if data:
            return
        job.abandoned.add(member.index)
        self.selector.unregister(conn)
        if len(job.abandoned) == len(job.requests):
            _kill_group(job.pid)

    def _expire(self) -> None:
        now = time.monotonic()
        for job in self.jobs.values():
            if not job.expired and now >= job.deadline:
                job.expired = True
                _kill_group(job.pid)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            job = self.jobs.pop(pid, None)
            if job is None:
                continue  # an orphaned tool (we are PID 1 in the renderer container)
            _kill_group(pid)  # whatever the child started dies with it
            self._finish(job, status)

    def _finish(self, job: _Job, status: int) -> None:
        self._read_stderr(job)  # the child is gone: what is left is in the pipe
        if job.stderr >= 0:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(job.stderr)
            os.close(job.stderr)
            job.stderr = -1
        error = self._failure(job, status)
        if job.batch:
            self._finish_batch(job, error is not None)
            return
        request = job.requests[0]
        if not job.abandoned:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(request.conn)
            if error is not None:
                _send_quietly(request.conn, wire.encode_frame(wire.error_reply(error)))
        request.conn.close()

    def _finish_batch(self, job: _Job, failed: bool) -> None:
        """A batch child ended: members it never started answering, when it failed,
        wait again at the head of the queue, to be rendered alone."""
        sending = _read_marks(job.progress)
        os.close(job.progress)
        job.progress = -1
        again: list[_Request] = []
        for index, request in enumerate(job.requests):
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(request.conn)
            if failed and index not in sending and index not in job.abandoned:
                again.append(dataclasses.replace(request, solo=True))
            else:
                request.conn.close()  # answered, abandoned, or its answer cut short
        self.waiting.extendleft(reversed(again))

    def _failure(self, job: _Job, status: int) -> DriftlessError | None:
        if job.expired:
            return TransientError(f"render exceeded the {job.time_limit:g} s time limit")
        if os.WIFSIGNALED(status):
            number = os.WTERMSIG(status)
            if number == signal.SIGXCPU:
                return TransientError(f"render exceeded its CPU time limit of {job.time_limit:g} s")
            name = f"signal {number}, {_signal_name(number)}"
            # Native code (Jsonnet's C++) aborts when an allocation fails under
            # RLIMIT_AS, after saying so on stderr.
            if _MEMORY_WORDS.search(bytes(job.stderr_tail)):
                return worker.memory_error(self.limits.memory_bytes, f"renderer stopped by {name}")
            return RenderError(f"renderer crashed ({name})")
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
        if code == 0:
            return None  # the child answered itself
        if code == EXIT_OUT_OF_MEMORY:
            return worker.memory_error(self.limits.memory_bytes)
        return DriftlessError(
            f"the renderer failed (exit status {code}; see the render server log)"
        )

    # ---------------------------------------------------------------- exits

    def _refuse(self, conn: socket.socket, error: DriftlessError) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(conn)
        _send_quietly(conn, wire.encode_frame(wire.error_reply(error)))
        conn.close()

    def _forget(self, conn: socket.socket) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(conn)
        conn.close()

    def _shutdown(self) -> None:
        for pid in list(self.jobs):
            _kill_group(pid)
        deadline = time.monotonic() + 5.0
        while self.jobs and time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            job = self.jobs.pop(pid, None)
            if job is not None:
                for request in job.requests:
                    request.conn.close()
        for waiting in self.waiting:
            waiting.conn.close()
        self.selector.close()
        self.listener.close()


def _apply_limits(memory_bytes: int, time_limit: float) -> None:
    """Limits of one render child (inherited by the tools it starts)."""
    cpu = math.ceil(time_limit) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (_MAX_FILE_BYTES, _MAX_FILE_BYTES))


def _mark(fd: int, index: int) -> None:
    """Tell the server (batch children only: ``fd`` >= 0) that the answer to member
    ``index`` starts going out: from then on it must never be rendered again."""
    if fd >= 0:
        os.write(fd, _MARK.pack(index))


def _read_marks(fd: int) -> set[int]:
    """The members an ended batch child started sending an answer to."""
    data = bytearray()
    with contextlib.suppress(BlockingIOError, InterruptedError, OSError):
        while chunk := os.read(fd, 4096):
            data += chunk
    whole = len(data) - len(data) % _MARK.size
    return {index for (index,) in _MARK.iter_unpack(bytes(data[:whole]))}


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _send_quietly(conn: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):
        conn.setblocking(True)
        conn.settimeout(5.0)
        conn.sendall(data)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown signal"


def listen(socket_path: Path) -> socket.socket:
    """A listening Unix socket at ``socket_path`` only its owner may connect to.

    Bound under a temporary name and renamed once listening, so a client that
    sees the path can connect.
    """
    temporary = socket_path.with_name(f".{socket_path.name}.{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(str(temporary))
    finally:
        os.umask(old)
    listener.listen(_BACKLOG)
    listener.setblocking(False)
    temporary.replace(socket_path)
    return listener


def serve(
    socket_path: Path,
    tools: RenderTools,
    limits: ServerLimits | None = None,
    *,
    exit_with_stdin: bool = False,
) -> None:
    """Serve renders on ``socket_path`` until stopped (see the module contract)."""
    limits = limits or ServerLimits()
    worker.warm_up(tools, limits.output())
    listener = listen(socket_path)
    try:
        _Server(listener, tools, limits, exit_with_stdin).run()
    finally:
        with contextlib.suppress(FileNotFoundError):
            socket_path.unlink()


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    """Arguments of ``python -m driftless.render.server`` (the controller's own child)."""
    parser = argparse.ArgumentParser(prog="driftless-render-server")
    parser.add_argument("--socket", type=Path, required=True)
    parser.add_argument("--kustomize", default="kustomize")
    parser.add_argument("--helm", default="helm")
    parser.add_argument("--scratch-dir", type=Path, default=None)
    parser.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT)
    parser.add_argument("--memory-limit-mib", type=int, default=2048)
    parser.add_argument("--max-concurrent", type=int, default=8)
    parser.add_argument("--exit-with-stdin", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    tools = RenderTools(
        kustomize=args.kustomize,
        helm=args.helm,
        scratch_dir=args.scratch_dir,
        time_limit=args.time_limit,
    )
    limits = ServerLimits(
        time_limit=args.time_limit,
        memory_bytes=args.memory_limit_mib * MIB,
        max_concurrent=args.max_concurrent,
    )
    try:
        serve(args.socket, tools, limits, exit_with_stdin=args.exit_with_stdin)
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES, errno.ENOENT):
            sys.exit(f"render server: cannot listen on {args.socket}: {exc.strerror}")
        raise


if __name__ == "__main__":
    main()
