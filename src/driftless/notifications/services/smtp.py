"""Email over SMTP, STARTTLS by default, or implicit TLS (SMTPS).

Contract:

* ``spec.address`` is ``host:port`` (``[v6]:port``; port 587 when left out).
  Implicit TLS (the connection is TLS from its first byte, RFC 8314) for
  ``smtps://host[:port]`` (port 465 when left out) and, as Alertmanager does,
  for any address on port 465; ``startTLS`` does not apply there.
  ``spec.from`` is the sender, ``spec.recipients`` the receivers; each must be
  one plain address (no display-name tricks, no line breaks: a header
  injection is refused, not sent).
* STARTTLS (``spec.startTLS``, default true): the server must offer it, and
  its certificate must verify against Secret key ``ca.crt`` or the system's
  roots (``insecureSkipTLS`` skips that). Secret keys ``username`` and
  ``password`` log in, and are never sent over a connection without TLS: that
  is refused before connecting.
* ``message(n, sender, recipients)`` (pure) is a MIME text message: subject the
  title (line breaks folded to spaces), a plain-text body with the facts and
  the link to the UI.
* stdlib ``smtplib`` runs in a small thread pool of its own (blocking I/O never
  runs on the event loop, and a slow mail server cannot take the loop's default
  executor); every socket operation times out, and the whole conversation has
  ``MESSAGE_DEADLINE`` seconds: past it the socket is shut down from the event
  loop, so a server dripping a byte a second frees its thread. One namespace
  holds at most ``NAMESPACE_SLOTS`` of the pool's ``POOL_SIZE`` threads.
* The connection goes only to an address the send's egress reach permits
  (``egress.CURRENT``, checked on the resolved address); a refused, unreachable
  or silent server reads "delivery failed: cannot connect".
* Failures: 4xx replies, disconnects and timeouts are retriable; 5xx replies,
  a refused login, refused recipients and an untrusted certificate are not.
  Messages name the service object and the SMTP reply code, never the
  server's text (it may echo the login).
"""

from __future__ import annotations

import asyncio
import contextlib
import smtplib
import socket
import ssl
import weakref
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

import httpx

from driftless.notifications.message import DeliveryError, Notification, Target
from driftless.notifications.services import egress, transport

__all__ = ["DEFAULT_PORT", "Address", "message", "parse_address", "send"]

DEFAULT_PORT = 587
#: The submission port of implicit TLS (RFC 8314), and the default of ``smtps://``.
IMPLICIT_TLS_PORT = 465
_SMTPS = "smtps://"
#: Seconds each socket operation may take.
SOCKET_TIMEOUT = 20.0
_SUBJECT_MAX = 200
#: Seconds one whole message may take, connection to QUIT.
MESSAGE_DEADLINE = 60.0
POOL_SIZE = 8
#: Threads of the pool one namespace may hold at once.
NAMESPACE_SLOTS = 2
_POOL = ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="driftless-smtp")


@dataclass(frozen=True)
class Address:
    host: str
    port: int
    implicit_tls: bool = False  # TLS from the first byte (SMTPS), not STARTTLS


def parse_address(text: str | None) -> Address | None:
    """``host:port``, ``host``, ``[v6]:port``, each optionally ``smtps://``-prefixed ->
    ``Address``; ``None`` when malformed."""
    if not text or any(c.isspace() or ord(c) < 0x20 for c in text):
        return None
    smtps = text[: len(_SMTPS)].lower() == _SMTPS
    found = _host_port(text[len(_SMTPS) :] if smtps else text)
    if found is None:
        return None
    host, port = found
    port = port or (IMPLICIT_TLS_PORT if smtps else DEFAULT_PORT)
    return Address(host, port, implicit_tls=smtps or port == IMPLICIT_TLS_PORT)


def _host_port(text: str) -> tuple[str, int | None] | None:
    host, port_text = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest and not rest.startswith(":"):
            return None
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    elif ":" in text:
        return None
    if not host or host.startswith("-") or "/" in host:
        return None
    if not port_text:
        return host, None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        return None
    return host, int(port_text)


def mailbox(text: str) -> str | None:
    """One plain address, or ``None`` (line breaks, several or display-named addresses)."""
    if any(c in text for c in '\r\n,;<>"()') or any(ord(c) < 0x20 for c in text):
        return None
    name, address = parseaddr(text.strip())
    if name or address.count("@") != 1 or address.startswith(("@", "-")) or address.endswith("@"):
        return None
    return address


def message(n: Notification, sender: str, recipients: tuple[str, ...]) -> EmailMessage:
    """The email of one notification (see the module docstring)."""
    title = n.title.strip() or f"{n.app_namespace}/{n.app_name}: {n.trigger}"
    subject = " ".join(title.split())[:_SUBJECT_MAX]
    lines = [n.body.rstrip(), ""] if n.body.strip() else []
    lines += [f"{k}: {' '.join(v.split())}" for k, v in n.facts]
    lines += [
        f"Application: {n.app_namespace}/{n.app_name} (project {n.project})",
        f"Trigger: {n.trigger}",
    ]
    if n.revision:
        lines.append(f"Revision: {n.revision}")
    if n.app_url:
        lines += ["", n.app_url]
    mail = EmailMessage()
    mail["Subject"] = subject
    mail["From"] = sender
    mail["To"] = ", ".join(recipients)
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    mail.set_content("\n".join(lines) + "\n")
    return mail


async def send(n: Notification, t: Target, http: httpx.AsyncClient) -> None:
    del http  # email needs no HTTP client
    address = parse_address(t.address)
    if address is None:
        raise DeliveryError(f"{transport.label(t)}: spec.address is not host:port", retriable=False)
    sender = mailbox(t.sender or "")
    recipients = tuple(mailbox(r) for r in t.recipients)
    if sender is None:
        raise DeliveryError(f"{transport.label(t)}: spec.from is not an address", retriable=False)
    if not recipients or any(r is None for r in recipients):
        raise DeliveryError(
            f"{transport.label(t)}: spec.recipients must list plain addresses", retriable=False
        )
    wanted = tuple(r for r in recipients if r is not None)
    login = _login(t)
    tls = t.start_tls or address.implicit_tls
    if login and not tls:
        raise DeliveryError(
            f"{transport.label(t)}: refusing to send the login without TLS (startTLS is off)",
            retriable=False,
        )
    context = _tls_context(t) if tls else None
    mail = message(n, sender, wanted)
    line = _Line(egress.CURRENT.get())
    async with _slots().hold(t.namespace):
        loop = asyncio.get_running_loop()
        done = loop.run_in_executor(
            _POOL, _deliver, t, address, context, login, mail, sender, wanted, line
        )
        try:
            async with asyncio.timeout(MESSAGE_DEADLINE):
                await asyncio.shield(done)
        except TimeoutError:
            line.abort()
            await asyncio.gather(done, return_exceptions=True)  # its thread is free again
            raise DeliveryError(
                f"{transport.label(t)}: {transport.CANNOT_CONNECT}", retriable=True
            ) from None
        except asyncio.CancelledError:
            line.abort()
            raise


@dataclass
class _Line:
    """One conversation's connection, which the event loop may cut (the deadline)."""

    reach: egress.Reach
    client: smtplib.SMTP | None = None
    raw: socket.socket | None = None
    aborted: bool = False

    def abort(self) -> None:
        self.aborted = True
        for sock in (self.raw, self.client.sock if self.client is not None else None):
            if sock is not None:
                # The plain socket's shutdown, under any TLS layer: a blocked read returns.
                with contextlib.suppress(OSError, ValueError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _guarded_socket(line: _Line, host: str, port: int, timeout: float) -> socket.socket:
    sock = egress.connect(host, port, timeout, line.reach)
    line.raw = sock
    if line.aborted:
        sock.close()
        raise TimeoutError("message deadline passed")
    return sock


class _GuardedSMTP(smtplib.SMTP):
    """``smtplib.SMTP`` connecting only where the egress reach permits."""

    def __init__(self, line: _Line, timeout: float) -> None:
        self._line = line
        super().__init__(timeout=timeout)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        self._host = host  # the name STARTTLS verifies (set by __init__ only when it connects)
        return _guarded_socket(self._line, host, port, timeout)


class _GuardedSMTPS(smtplib.SMTP_SSL):
    """``smtplib.SMTP_SSL`` (implicit TLS) connecting only where the egress reach permits."""

    def __init__(self, line: _Line, timeout: float, context: ssl.SSLContext) -> None:
        self._line = line
        super().__init__(timeout=timeout, context=context)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        self._host = host
        sock = _guarded_socket(self._line, host, port, timeout)
        # The handshake runs under the socket's timeout and the message deadline.
        return self.context.wrap_socket(sock, server_hostname=host)


def _client(line: _Line, address: Address, context: ssl.SSLContext | None) -> smtplib.SMTP:
    if address.implicit_tls and context is not None:
        return _GuardedSMTPS(line, SOCKET_TIMEOUT, context)
    return _GuardedSMTP(line, SOCKET_TIMEOUT)


@dataclass
class _Slots:
    """At most ``NAMESPACE_SLOTS`` conversations per namespace on one event loop."""

    held: dict[str, asyncio.Semaphore] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)

    @contextlib.asynccontextmanager
    async def hold(self, namespace: str) -> AsyncIterator[None]:
        semaphore = self.held.setdefault(namespace, asyncio.Semaphore(NAMESPACE_SLOTS))
        self.users[namespace] = self.users.get(namespace, 0) + 1
        try:
            async with semaphore:
                yield
        finally:
            self.users[namespace] -= 1
            if not self.users[namespace]:  # nobody holds or waits: forget the namespace
                del self.users[namespace], self.held[namespace]


_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Slots] = weakref.WeakKeyDictionary()


def _slots() -> _Slots:
    return _SLOTS.setdefault(asyncio.get_running_loop(), _Slots())


def _login(t: Target) -> tuple[str, str] | None:
    username, password = t.secrets.get("username"), t.secrets.get("password")
    if not username and not password:
        return None
    if not username or not password:
        raise DeliveryError(
            f"{transport.label(t)}: Secret keys username and password go together",
            retriable=False,
        )
    return (username, password)


def _tls_context(t: Target) -> ssl.SSLContext:
    if t.insecure_skip_tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    ca = t.secrets.get("ca.crt")
    try:
        return ssl.create_default_context(cadata=ca) if ca else ssl.create_default_context()
    except (ssl.SSLError, ValueError):
        raise DeliveryError(
            f"{transport.label(t)}: Secret key ca.crt is not a PEM certificate", retriable=False
        ) from None


def _deliver(
    t: Target,
    address: Address,
    context: ssl.SSLContext | None,
    login: tuple[str, str] | None,
    mail: EmailMessage,
    sender: str,
    recipients: tuple[str, ...],
    line: _Line,
) -> None:
    """The blocking SMTP conversation (runs in ``_POOL``)."""
    try:
        with _client(line, address, context) as client:
            line.client = client
            client.connect(address.host, address.port)
            client.ehlo()
            if context is not None and not address.implicit_tls:
                if not client.has_extn("starttls"):
                    raise DeliveryError(
                        f"{transport.label(t)}: the server offers no STARTTLS", retriable=False
                    )
                client.starttls(context=context)
                client.ehlo()
            if login is not None:
                client.login(*login)
            client.send_message(mail, from_addr=sender, to_addrs=list(recipients))
    except DeliveryError:
        raise
    except smtplib.SMTPNotSupportedError:
        raise DeliveryError(
            f"{transport.label(t)}: the server offers no login (AUTH)", retriable=False
        ) from None
    except smtplib.SMTPRecipientsRefused:
        raise DeliveryError(
            f"{transport.label(t)}: the server refused the recipients", retriable=False
        ) from None
    except smtplib.SMTPResponseException as error:
        code = error.smtp_code
        raise DeliveryError(
            f"{transport.label(t)}: SMTP {code}", retriable=400 <= code < 500
        ) from None
    except ssl.SSLCertVerificationError:
        raise DeliveryError(
            f"{transport.label(t)}: the server's TLS certificate is not trusted", retriable=False
        ) from None
    except (smtplib.SMTPServerDisconnected, OSError, egress.EgressRefused):
        # Refused, unreachable, silent or cut at the deadline: one text (no port scanning).
        raise DeliveryError(
            f"{transport.label(t)}: {transport.CANNOT_CONNECT}", retriable=True
        ) from None
    except smtplib.SMTPException as error:
        raise DeliveryError(
            f"{transport.label(t)}: {type(error).__name__}", retriable=True
        ) from None
