"""``stack = "python:package.module:factory"``: your own sans-I/O TLS wrapper.

``factory(cfg)`` is called with the endpoint's
:class:`~biopair.endpoints.config.EndpointConfig` (``cfg.role`` is ``client`` or
``server``; :func:`ssl_context` builds a matching ``ssl.SSLContext`` from the test PKI)
and returns an object with these methods -- the whole protocol (docs/wrappers.md has a
complete worked example):

``receive_from_network(data: bytes) -> None``
    bytes arrived from the peer (``b""``: the network reported EOF);
``data_to_send() -> bytes``
    bytes the wrapper wants on the network (``b""``: none now);
``handshake() -> bool``
    start or continue the handshake; True once it is done;
``send(data: bytes) -> int``
    the application sends; returns the bytes accepted (0: none yet, asked again);
``recv(size: int) -> bytes | None``
    up to ``size`` bytes of application data (``b""``: nothing yet; None: the peer
    closed the connection);
``close() -> bool``
    start or continue closing; True once closed.

An exception from any method is the outcome (``SSL "Class: message"``).  Optional:
``stranded() -> list[str]``, where bytes wait inside the wrapper (``"12 bytes in my send
buffer"``), for the STRANDED oracle.
"""

from __future__ import annotations

import importlib
import ssl
from typing import Any

from biopair.endpoints.config import ConfigError, EndpointConfig
from biopair.endpoints.protocol import RawResult
from biopair.endpoints.stdlib import build_stdlib_context
from biopair.endpoints.wrappers._base import WrapperEndpoint, closed, done, pending
from biopair.endpoints.wrappers.declared import python_capabilities

#: The methods a user's wrapper must have.
METHODS = ("receive_from_network", "data_to_send", "handshake", "send", "recv", "close")


def ssl_context(cfg: EndpointConfig) -> ssl.SSLContext:
    """An ``ssl.SSLContext`` for ``cfg`` on the deterministic test PKI (what the asyncio
    and trio wrappers use)."""
    return build_stdlib_context(cfg)


def load_factory(stack: str) -> Any:
    """The factory ``python:package.module:factory`` names.

    Raises:
        ConfigError: the module cannot be imported or has no such callable.
    """
    _, module_name, attr = stack.split(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any import failure is the user's module's
        raise ConfigError("stack", f"cannot import {module_name!r}: {exc}") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ConfigError("stack", f"{module_name} has no callable {attr!r}")
    return factory


class PythonEndpoint(WrapperEndpoint):
    """One side on a user's sans-I/O wrapper (see the module docstring)."""

    def __init__(self, cfg: EndpointConfig) -> None:
        super().__init__(cfg)
        self.stack = cfg.stack
        self.capabilities = python_capabilities(cfg.stack)
        self.obj = load_factory(cfg.stack)(cfg)
        lacking = [m for m in METHODS if not callable(getattr(self.obj, m, None))]
        if lacking:
            raise ConfigError(f"{cfg.role}.stack", f"the wrapper {cfg.stack} has no "
                                                   f"{', '.join(lacking)}")
        self._done_handshake = False

    def _feed(self, data: bytes) -> None:
        self.obj.receive_from_network(data)

    def _feed_eof(self) -> None:
        self.obj.receive_from_network(b"")

    def _tick(self) -> bool:
        data = self.obj.data_to_send()
        if data:
            self._write(bytes(data))
        return bool(data)

    def _op(self, op: str, size: int | None, data: bytes | None) -> RawResult:
        if op == "handshake":
            if self.obj.handshake():
                self.secure = True
                return done(1)
            return pending()
        if op == "recv":
            got = self.obj.recv(size or 16384)
            if got is None:
                self.lost = True
            elif got:
                self._arrived(bytes(got))
            return self._settle("recv", size)
        if op == "close":
            if self.obj.close():
                self.lost = True
                return closed()
            return pending()
        return super()._op(op, size, data)

    def _app_send(self, data: bytes) -> RawResult:
        n = int(self.obj.send(data))
        if n:
            return done(n)
        return pending()

    def _app_send_more(self) -> RawResult:
        return self._app_send(self._payload)

    def _tls_state(self) -> tuple[str | None, str | None]:
        # Optional: ``version()`` and ``cipher()`` on the wrapper, or on its ``tls``.
        for obj in (self.obj, getattr(self.obj, "tls", None)):
            version, cipher = getattr(obj, "version", None), getattr(obj, "cipher", None)
            if callable(version) and callable(cipher) and self.secure:
                found = cipher()
                return version(), found[0] if isinstance(found, tuple) else found
        return None, None

    def _internal(self) -> list[str]:
        probe = getattr(self.obj, "stranded", None)
        return [str(w) for w in probe()] if callable(probe) else []
