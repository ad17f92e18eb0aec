"""TLS stacks an endpoint can run on, and the links between endpoints of different stacks.

``stack`` in a scenario's ``[client]`` / ``[server]`` picks the kind of endpoint:

* ``pyopenssl`` (default): :class:`biopair.endpoints.pyopenssl.Endpoint`, raw calls through
  pyOpenSSL's binding (the OpenSSL bundled in the cryptography wheel);
* ``stdlib``: :class:`biopair.endpoints.stdlib.StdlibEndpoint`, Python's ``ssl`` module (the system
  OpenSSL);
* ``openssl-cli`` / ``gnutls-cli``: :class:`biopair.endpoints.peers.PeerEndpoint`, a real TLS
  program in another process over loopback TCP.

Two pyOpenSSL endpoints keep the plain :class:`biopair.transport.link.MemoryLink`.  Any other
combination uses a :class:`WireLink`, which does the same job on the *wire* interface
every endpoint kind offers (``wire_take``, ``wire_give``, ``wire_eof``,
``wire_pending``); towards a peer it is a :class:`PeerLink`, which can also wait for the
peer's asynchronous answer before the scheduler declares a DEADLOCK.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from biopair.endpoints.config import EndpointConfig
from biopair.endpoints.peers import (
    PEER_STACKS,
    PeerEndpoint,
)
from biopair.endpoints.pyopenssl import Endpoint
from biopair.endpoints.stdlib import StdlibEndpoint

#: Every stack a scenario may name.
STACKS: tuple[str, ...] = ("pyopenssl", "stdlib", *PEER_STACKS)
_CHUNK = 1 << 16


def make_endpoint(cfg: EndpointConfig, context: Any = None, sock: Any = None,
                  trace_hooks: bool = True) -> Any:
    """Build the endpoint for ``cfg.stack``.

    Raises:
        biopair.endpoints.pyopenssl.ConfigError: for settings the stack refuses.
        biopair.endpoints.peers.PeerError: when an external peer cannot be started.
    """
    if cfg.stack == "stdlib":
        return StdlibEndpoint(cfg)
    if cfg.stack in PEER_STACKS:
        return PeerEndpoint(cfg)
    return Endpoint(cfg, sock=sock, context=context, trace_hooks=trace_hooks)


def make_endpoints(client: EndpointConfig, server: EndpointConfig,
                   contexts: Mapping[str, Any],
                   socks: Mapping[str, Any] | None = None,
                   trace_hooks: bool = True) -> dict[str, Any]:
    """Both endpoints; in-process ones first, so a refused setting starts no process.

    Raises:
        ConfigError, PeerError: as :func:`make_endpoint`.
    """
    cfgs = {"client": client, "server": server}
    order = sorted(cfgs, key=lambda name: cfgs[name].stack in PEER_STACKS)
    made: dict[str, Any] = {}
    try:
        for name in order:
            made[name] = make_endpoint(cfgs[name], contexts.get(name),
                                       (socks or {}).get(name), trace_hooks)
    except BaseException:
        for ep in made.values():
            close = getattr(ep, "close", None)
            if close is not None:
                close()
        raise
    return {"client": made["client"], "server": made["server"]}
