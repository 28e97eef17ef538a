"""A local Kubernetes control plane made of plain processes on 127.0.0.1.

:class:`DevCluster` runs etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok (which plays the kubelet of a few fake Nodes, so Pods
are bound, become Running and Ready, and Deployments become Available). Unless
``addresses=False``, kwok also plays the cloud provider and an ingress
controller: LoadBalancer Services and Ingresses get the address 127.0.0.1
moments after creation (the contract is in ``addresses``).

Contract of :meth:`DevCluster.up`: when it returns, ``/readyz`` answers, every
fake Node is Ready and the ``default`` ServiceAccount exists (so a Pod created
right away is admitted); ``kubeconfig`` is an admin kubeconfig. When it raises
(:class:`DevClusterError`, quoting the tail of the failing component's log),
every process it started is already stopped and the logs stay in the state
dir for inspection.

Contract of :meth:`DevCluster.down`: every process recorded in the state file
is stopped — only those, identified by pid *and* start time — and the state it
wrote is removed. It works from any process, so ``driftless devcluster down``
stops a cluster that ``driftless devcluster up`` left running (detached).

Fault injection: :meth:`DevCluster.stop_apiserver` stops only the
kube-apiserver (SIGKILL by default, as a crash would) and leaves etcd, the
other components and every certificate in place; :meth:`DevCluster.start_apiserver`
starts it again on the same port with the same certificates and etcd, returns
once ``/readyz`` answers, and restarts the controller manager and scheduler
(see there why). Clients holding the kubeconfig see an outage, not a new
cluster: same URL, same CA, same data.

State dir layout (default ``<cache>/devcluster/<name>``)::

    state.json          pids, start times, ports, server URL (written as each process starts)
    kubeconfig          admin kubeconfig, certificates embedded
    pki/                CA, serving, admin and service-account keys (fresh per ``up``)
    etcd/               etcd data (throwaway: etcd runs with --unsafe-no-fsync)
    logs/<component>.log
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from driftless.devcluster import (
    addresses,
    binaries,
    kubeconfig,
    kwok,
    paths,
    pki,
    procs,
    versions,
)
from driftless.devcluster.apiclient import ApiClient, ApiError
from driftless.devcluster.errors import DevClusterError
from driftless.devcluster.logtail import tail
from driftless.devcluster.pki import Pki
from driftless.devcluster.procs import ProcessRecord

Progress = Callable[[str], None]

STATE_FILE: Final = "state.json"
SERVICE_CIDR: Final = "10.0.0.0/24"
SERVICE_IP: Final = "10.0.0.1"  # first address of SERVICE_CIDR: the `kubernetes` Service
_POLL: Final = 0.1
_APISERVER: Final = "kube-apiserver"
_KCM: Final = "kube-controller-manager"
_SCHEDULER: Final = "kube-scheduler"
# Entries of the state dir that `down` removes; anything else there is left alone.
_OWNED_ENTRIES: Final = ("state.json", "kubeconfig", "pki", "etcd", "logs", addresses.STAGES_FILE)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class ClusterStatus:
    """What :meth:`DevCluster.status` found."""

    name: str
    state_dir: Path
    #: every recorded process is alive (the cluster may still be starting)
    running: bool
    #: it is running and finished starting
    ready: bool
    server: str | None
    kubeconfig: Path | None
    #: component name -> pid recorded in the state file
    pids: dict[str, int]
    #: component name -> whether that very process is alive
    alive: dict[str, bool]
    #: whether it runs the address stand-in (None: no state, or written before it existed)
    addresses: bool | None = None


class DevCluster:
    """One named local control plane; see the module docstring for the contracts."""

    def __init__(
        self,
        name: str = "default",
        *,
        state_dir: Path | None = None,
        nodes: int = 3,
        addresses: bool = True,
        flow_control: bool = False,
        etcd_max_request_bytes: int | None = None,
        progress: Progress = _stderr,
    ) -> None:
        self.name = name
        self.state_dir = (state_dir or paths.devcluster_dir(name)).absolute()
        self.nodes = nodes
        #: run the address stand-in (see ``addresses``); False gives a bare cluster
        self.addresses = addresses
        #: run API Priority and Fairness, as production clusters do (429s under load)
        self.flow_control = flow_control
        #: etcd's --max-request-bytes (None: etcd's default, 1.5 MiB): what one write may hold
        self.etcd_max_request_bytes = etcd_max_request_bytes
        self.progress = progress
        self.server: str | None = None
        self._etcd_url: str | None = None
        self._records: list[ProcessRecord] = []
        self._popen: dict[int, subprocess.Popen[bytes]] = {}
        self._attached = True

    # -- public API --------------------------------------------------------

    @property
    def kubeconfig(self) -> Path:
        """Path of the admin kubeconfig (exists while the cluster runs)."""
        return self.state_dir / "kubeconfig"

    @property
    def certs(self) -> Pki:
        """The cluster's certificates and keys."""
        return Pki(self.state_dir / "pki")

    @property
    def logs_dir(self) -> Path:
        """Directory holding one ``<component>.log`` per process."""
        return self.state_dir / "logs"

    @property
    def pids(self) -> dict[str, int]:
        """Pids of the processes this object started or loaded from the state file."""
        return {r.name: r.pid for r in self._records}

    def up(self, *, attached: bool = True, timeout: float = 60.0) -> DevCluster:
        """Start the cluster and wait until it is ready; return ``self``.

        ``attached=True`` ties the processes' lives to this Python process (see
        ``procs``); ``attached=False`` leaves them running after it exits.
        ``timeout`` bounds the start after the binaries are available (a first
        run builds them before, which takes minutes and is not counted).
        """
        current = self.status()
        if current.running:
            raise DevClusterError(
                f"dev cluster {self.name!r} is already running or starting "
                f"(kubeconfig {self.kubeconfig}); run `driftless devcluster down` first"
            )
        self._cleanup_stale()
        found = binaries.ensure_all(versions.CONTROL_PLANE, progress=self.progress)
        stages = binaries.kwok_stages_path()
        self._attached = attached
        try:
            self._start(found, stages, deadline=time.monotonic() + timeout)
        except BaseException:
            # Includes KeyboardInterrupt: never leave a half-started cluster behind.
            self._stop_processes()
            raise
        return self

    def down(self) -> None:
        """Stop every recorded process and remove the state this cluster wrote.

        Idempotent: a cluster that is not running is only cleaned up.
        """
        if not self._records:
            self._records = self._load_records()
        self._stop_processes()
        self._remove_state()
        self.server = None

    def status(self) -> ClusterStatus:
        """Report whether the cluster's processes are alive; touches nothing."""
        state = self._read_state()
        records = [_record_from_json(p) for p in state.get("processes", [])]
        alive = {r.name: procs.alive(r) for r in records}
        running = bool(records) and all(alive.values())
        return ClusterStatus(
            name=self.name,
            state_dir=self.state_dir,
            running=running,
            ready=running and bool(state.get("ready")),
            server=state.get("server"),
            kubeconfig=self.kubeconfig if self.kubeconfig.exists() else None,
            pids={r.name: r.pid for r in records},
            alive=alive,
            addresses=state.get("addresses"),
        )

    def check(self) -> None:
        """Raise :class:`DevClusterError` (with its log tail) if a component has exited."""
        for record in self._records or self._load_records():
            if not procs.alive(record):
                raise self._died(record)

    def wait(self, poll: float = 1.0) -> None:
        """Block until a component exits, then raise; for ``up --foreground``."""
        while True:
            self.check()
            time.sleep(poll)

    def stop_apiserver(self, *, kill: bool = True) -> None:
        """Stop only kube-apiserver: SIGKILL (a crash) or, with ``kill=False``, SIGTERM.

        Returns once the process is gone; everything else keeps running.
        """
        record = self._record(_APISERVER)
        survivors = procs.kill([record]) if kill else procs.terminate([record])
        if survivors:
            raise DevClusterError(f"dev cluster {self.name!r}: could not stop {_APISERVER}")
        self._records.remove(record)
        process = self._popen.pop(record.pid, None)
        if process is not None:
            process.poll()
        self._write_state(ready=False)

    def start_apiserver(self, *, timeout: float = 60.0) -> None:
        """Start kube-apiserver again on its old port, certificates and etcd; wait for /readyz.

        The controller manager and the scheduler are then restarted too: after
        an apiserver restart, Kubernetes 1.36's controller manager was seen to
        keep a stale Pod informer for minutes (it logs "read version ... is not
        as new as written version" and never marks ReplicaSets ready). What
        the fault tests examine is driftless's recovery, not theirs.
        """
        if any(r.name == _APISERVER for r in self._records):
            raise DevClusterError(f"dev cluster {self.name!r}: {_APISERVER} is already running")
        if self.server is None or self._etcd_url is None:
            raise DevClusterError(f"dev cluster {self.name!r} was never started by this object")
        port = int(self.server.rsplit(":", 1)[1])
        certs = self.certs
        found = {c.name: binaries.binary_path(c) for c in versions.CONTROL_PLANE}
        args = self._apiserver_args(self._etcd_url, port, certs)
        self._spawn(_APISERVER, [str(found[_APISERVER]), *args])
        client = ApiClient(self.server, certs)
        self._wait_until(_APISERVER, time.monotonic() + timeout, lambda: _api_ok(client, "/readyz"))
        self._respawn(_KCM, [str(found[_KCM]), *self._kcm_args(certs)])
        self._respawn(_SCHEDULER, [str(found[_SCHEDULER]), *self._scheduler_args()])
        self._write_state(ready=True)

    def _respawn(self, name: str, argv: list[str]) -> None:
        """Stop the running ``name`` (SIGTERM, then SIGKILL) and start ``argv`` in its place."""
        record = self._record(name)
        if procs.terminate([record]):
            raise DevClusterError(f"dev cluster {self.name!r}: could not stop {name}")
        self._records.remove(record)
        process = self._popen.pop(record.pid, None)
        if process is not None:
            process.poll()
        self._spawn(name, argv)

    def _record(self, name: str) -> ProcessRecord:
        for record in self._records:
            if record.name == name:
                return record
        raise DevClusterError(f"dev cluster {self.name!r}: {name} is not running")

    def __enter__(self) -> DevCluster:
        return self.up(attached=True)

    def __exit__(self, *exc: object) -> None:
        self.down()

    # -- starting ----------------------------------------------------------

    def _start(self, found: dict[str, Path], stages: Path, *, deadline: float) -> None:
        started = time.monotonic()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._records = []
        self._write_state(ready=False)
        certs = pki.generate(self.state_dir / "pki", service_ip=SERVICE_IP)
        etcd_client, etcd_peer, apiserver_port = _free_ports(3)
        self.server = f"https://127.0.0.1:{apiserver_port}"
        kubeconfig.write(self.kubeconfig, self.server, certs, name=self.name)

        etcd_url = f"http://127.0.0.1:{etcd_client}"
        self._etcd_url = etcd_url
        self._spawn("etcd", [str(found["etcd"]), *self._etcd_args(etcd_client, etcd_peer)])
        self._wait_until("etcd", deadline, lambda: _http_ok(f"{etcd_url}/health"))

        args = self._apiserver_args(etcd_url, apiserver_port, certs)
        self._spawn(_APISERVER, [str(found[_APISERVER]), *args])
        client = ApiClient(self.server, certs)
        self._wait_until(_APISERVER, deadline, lambda: _api_ok(client, "/readyz"))

        # Started only now: the controller manager gives up if the apiserver stays
        # unhealthy for a few seconds, and nothing is gained by starting it earlier.
        self._spawn(_KCM, [str(found[_KCM]), *self._kcm_args(certs)])
        self._spawn(_SCHEDULER, [str(found[_SCHEDULER]), *self._scheduler_args()])
        self._spawn(
            "kwok", [str(found["kwok"]), *kwok.args(self.kubeconfig, *self._stages(stages))]
        )
        for index in range(self.nodes):
            client.create("/api/v1/nodes", kwok.fake_node(f"kwok-node-{index}"))
        if self.addresses:
            client.create("/apis/networking.k8s.io/v1/ingressclasses", addresses.ingress_class())

        self._wait_until("kwok", deadline, lambda: _nodes_ready(client, self.nodes))
        self._wait_until(
            _KCM,
            deadline,
            lambda: _api_ok(client, "/api/v1/namespaces/default/serviceaccounts/default"),
        )
        self._write_state(ready=True)
        self.progress(
            f"dev cluster {self.name!r} ready in {time.monotonic() - started:.1f} s "
            f"at {self.server} (kubeconfig {self.kubeconfig})"
        )

    def _stages(self, stages: Path) -> list[Path]:
        """kwok's stage files: the Pod/Node lifecycle, plus the address stand-in if wanted."""
        if not self.addresses:
            return [stages]
        extra = self.state_dir / addresses.STAGES_FILE
        extra.write_text(addresses.stages_yaml())
        return [stages, extra]

    def _etcd_args(self, client_port: int, peer_port: int) -> list[str]:
        peer = f"http://127.0.0.1:{peer_port}"
        client = f"http://127.0.0.1:{client_port}"
        return [
            "--name=devcluster",
            f"--data-dir={self.state_dir / 'etcd'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=devcluster={peer}",
            # Throwaway data: skipping fsync makes every write (and the start) much faster.
            "--unsafe-no-fsync",
            "--log-level=warn",
            *(
                [f"--max-request-bytes={self.etcd_max_request_bytes}"]
                if self.etcd_max_request_bytes is not None
                else []
            ),
        ]

    def _apiserver_args(self, etcd_url: str, port: int, certs: Pki) -> list[str]:
        return [
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={port}",
            f"--cert-dir={self.state_dir / 'pki'}",
            f"--tls-cert-file={certs.serving_cert}",
            f"--tls-private-key-file={certs.serving_key}",
            f"--client-ca-file={certs.ca_cert}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={certs.sa_public_key}",
            f"--service-account-signing-key-file={certs.sa_private_key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=RBAC",
            "--allow-privileged=true",
            # The `kubernetes` Service cannot point at a loopback address, so the
            # endpoint reconciler would only log errors; nothing here needs it.
            "--endpoint-reconciler-type=none",
            # API priority and fairness costs startup time and memory; one user needs
            # none, except a test of how driftless meets a server shedding load.
            f"--enable-priority-and-fairness={str(self.flow_control).lower()}",
            "--profiling=false",
        ]

    def _kcm_args(self, certs: Pki) -> list[str]:
        return [
            f"--kubeconfig={self.kubeconfig}",
            # No HTTPS endpoint of its own: nothing scrapes it, and fixed default
            # ports would collide between two dev clusters.
            "--secure-port=0",
            "--leader-elect=false",
            f"--service-account-private-key-file={certs.sa_private_key}",
            f"--root-ca-file={certs.ca_cert}",
            f"--cluster-signing-cert-file={certs.ca_cert}",
            f"--cluster-signing-key-file={certs.ca_key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
        ]

    def _scheduler_args(self) -> list[str]:
        return [
            f"--kubeconfig={self.kubeconfig}",
            "--secure-port=0",
            "--leader-elect=false",
        ]

    def _spawn(self, name: str, argv: list[str]) -> None:
        process, record = procs.spawn(
            name,
            argv,
            log=self.logs_dir / f"{name}.log",
            attached=self._attached,
            cwd=self.state_dir,
        )
        self._popen[record.pid] = process
        self._records.append(record)
        self._write_state(ready=False)

    def _wait_until(self, name: str, deadline: float, ready: Callable[[], bool]) -> None:
        """Poll ``ready`` until true; fail fast if any component exits meanwhile."""
        while True:
            for record in self._records:
                if not procs.alive(record):
                    raise self._died(record)
            if ready():
                return
            if time.monotonic() > deadline:
                log = self.logs_dir / f"{name}.log"
                raise DevClusterError(
                    f"dev cluster {self.name!r}: timed out waiting for {name}; "
                    f"last lines of {log}:\n{tail(log)}"
                )
            time.sleep(_POLL)

    def _died(self, record: ProcessRecord) -> DevClusterError:
        process = self._popen.get(record.pid)
        code = process.poll() if process is not None else None
        how = f"exited with code {code}" if code is not None else "is no longer running"
        return DevClusterError(
            f"dev cluster {self.name!r}: {record.name} (pid {record.pid}) {how}; "
            f"last lines of {record.log}:\n{tail(record.log)}"
        )

    # -- stopping and state --------------------------------------------------

    def _stop_processes(self) -> None:
        # Reverse start order: clients first, etcd last, so nobody logs a storm of
        # connection errors about the components that were stopped before it.
        survivors = procs.terminate(list(reversed(self._records)))
        for process in self._popen.values():
            process.poll()
        self._popen.clear()
        if survivors:
            names = ", ".join(f"{r.name} (pid {r.pid})" for r in survivors)
            raise DevClusterError(f"dev cluster {self.name!r}: could not stop {names}")
        self._records = []

    def _cleanup_stale(self) -> None:
        """Stop leftovers of a previous, half-dead run and clear its state."""
        self._records = self._load_records()
        if self._records or (self.state_dir / STATE_FILE).exists():
            self._stop_processes()
            self._remove_state()

    def _remove_state(self) -> None:
        for entry in _OWNED_ENTRIES:
            path = self.state_dir / entry
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.state_dir.rmdir()  # only if nothing else lives there

    def _write_state(self, *, ready: bool) -> None:
        state = {
            "name": self.name,
            "server": self.server,
            "etcd": self._etcd_url,
            "kubeconfig": str(self.kubeconfig),
            "attached": self._attached,
            "owner_pid": os.getpid(),
            "ready": ready,
            "addresses": self.addresses,
            "versions": {c.name: c.version for c in versions.CONTROL_PLANE},
            "processes": [_record_to_json(r) for r in self._records],
        }
        target = self.state_dir / STATE_FILE
        partial = target.with_name(f".{STATE_FILE}.partial")
        partial.write_text(json.dumps(state, indent=2))
        partial.replace(target)

    def _read_state(self) -> dict[str, Any]:
        try:
            data = json.loads((self.state_dir / STATE_FILE).read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _load_records(self) -> list[ProcessRecord]:
        state = self._read_state()
        self.server = state.get("server")
        self._etcd_url = state.get("etcd")
        return [_record_from_json(p) for p in state.get("processes", [])]


# -- helpers -----------------------------------------------------------------


def _record_to_json(record: ProcessRecord) -> dict[str, Any]:
    data = asdict(record)
    data["log"] = str(record.log)
    return data


def _record_from_json(data: dict[str, Any]) -> ProcessRecord:
    return ProcessRecord(
        name=str(data["name"]),
        pid=int(data["pid"]),
        start_time=int(data["start_time"]),
        log=Path(data["log"]),
    )


def _free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on 127.0.0.1.

    All sockets are held open until every port is chosen, so the kernel cannot
    hand out the same port twice; another program could still take one before
    our server binds it, which a start failure would report.
    """
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def _api_ok(client: ApiClient, path: str) -> bool:
    try:
        client.get(path)
    except ApiError:
        return False
    return True


def _nodes_ready(client: ApiClient, count: int) -> bool:
    try:
        nodes = client.get("/api/v1/nodes")
    except ApiError:
        return False
    ready = 0
    for node in nodes.get("items", []):
        conditions = node.get("status", {}).get("conditions", [])
        if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            ready += 1
    return ready >= count
