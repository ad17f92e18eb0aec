"""TLS stacks an endpoint can run on: what each supports, and building its endpoints.

``stack`` in a scenario's ``[client]`` / ``[server]`` picks the kind of endpoint:

* ``pyopenssl`` (default): :class:`biopair.endpoints.pyopenssl.Endpoint`, raw calls through
  pyOpenSSL's binding (the OpenSSL bundled in the cryptography wheel);
* ``stdlib``: :class:`biopair.endpoints.stdlib.StdlibEndpoint`, Python's ``ssl`` module (the system
  OpenSSL);
* ``libssl``: :class:`biopair.endpoints.libssl.LibsslEndpoint`, the system's OpenSSL 3
  through its C API (cffi ABI mode), on memory BIOs or a BIO pair;
* ``openssl-cli`` / ``gnutls-cli``: :class:`biopair.endpoints.peers.PeerEndpoint`, a real TLS
  program in another process over loopback TCP;
* ``wolfssl``: :class:`biopair.endpoints.wolfssl.WolfSSLEndpoint`, the system's libwolfssl
  through its I/O callbacks;
* ``tlslite-ng``: :class:`biopair.endpoints.tlslite.TlsliteEndpoint`, pure Python, through
  its asynchronous handshake generators;
* ``asyncio``, ``twisted``, ``trio`` and ``python:package.module:factory``: wrapper
  endpoints (:mod:`biopair.endpoints.wrappers`), a TLS layer on top of OpenSSL driven
  from its application side (docs/wrappers.md).

Each stack declares what it supports in a
:class:`~biopair.endpoints.protocol.Capabilities` value; :func:`capabilities` looks one up
(the scenario loader refuses an undeclared op, setting or result with it), and
:func:`make_endpoint` builds an :class:`~biopair.endpoints.protocol.Endpoint`.  Adding a
stack means one module with its endpoint class and ``CAPABILITIES``, one entry in
``_CAPABILITIES`` and one branch in :func:`make_endpoint`; ``tests/conformance/`` then runs
against it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from biopair.endpoints import _libssl, libssl, peers, pyopenssl, stdlib, tlslite, wolfssl
from biopair.endpoints.config import ConfigError, EndpointConfig
from biopair.endpoints.peers import PeerEndpoint
from biopair.endpoints.protocol import Capabilities, Endpoint
from biopair.endpoints.stdlib import StdlibEndpoint
from biopair.endpoints.wrappers import stacks as wrapper_stacks

# Every stack's declaration, in the order scenarios and messages list them.
_CAPABILITIES: dict[str, Capabilities] = {
    caps.stack: caps
    for caps in (pyopenssl.CAPABILITIES, stdlib.CAPABILITIES, *peers.CAPABILITIES.values(),
                 libssl.CAPABILITIES, wolfssl.CAPABILITIES, tlslite.CAPABILITIES,
                 *wrapper_stacks.CAPABILITIES.values())
}
# In-process stacks whose library may be missing: why, naming the package (None: present).
# (looked up at call time, so a test can stand in for a missing library).
_MISSING: dict[str, Callable[[], str | None]] = {
            "libssl": lambda: _libssl.missing(), "wolfssl": lambda: wolfssl.missing(),
            "tlslite-ng": lambda: tlslite.missing(),
            **{name: functools.partial(wrapper_stacks.missing, name)
               for name in wrapper_stacks.CAPABILITIES}}
#: Every stack a scenario may name.
STACKS: tuple[str, ...] = tuple(_CAPABILITIES)


def capabilities(stack: str) -> Capabilities:
    """What ``stack`` supports (its ops, settings, results, links and versions).

    ``python:package.module:factory`` names a user's sans-I/O wrapper
    (:mod:`biopair.endpoints.wrappers.python`); it is not in :data:`STACKS`.

    Raises:
        ValueError: for a name not in :data:`STACKS` (or a malformed ``python:`` name).
    """
    if stack.startswith(wrapper_stacks.PYTHON_PREFIX):
        return wrapper_stacks.python_capabilities(stack)
    try:
        return _CAPABILITIES[stack]
    except KeyError:
        raise ValueError(f"unknown stack {stack!r} (known: {', '.join(STACKS)})") from None


def missing(stack: str) -> str | None:
    """Why an in-process stack's library cannot be loaded, naming the package to install
    (None: it can, or the stack has no optional library)."""
    check = _MISSING.get(stack)
    return check() if check is not None else None


def make_endpoint(cfg: EndpointConfig, context: Any = None, sock: Any = None,
                  trace_hooks: bool = True) -> Endpoint:
    """Build the endpoint for ``cfg.stack``.

    Args:
        cfg: the endpoint's settings.
        context: a prepared Context for a pyOpenSSL endpoint (others ignore it).
        sock: the socket of a pyOpenSSL endpoint on a socket link (others ignore it).
        trace_hooks: install the protocol-trace hooks on a pyOpenSSL Context.

    Raises:
        ValueError: for an unknown stack.
        biopair.endpoints.config.ConfigError: for settings the stack refuses, or a stack
            whose library is not installed (at ``<role>.stack``, naming the package).
        biopair.endpoints.peers.PeerError: when an external peer cannot be started.
    """
    caps = capabilities(cfg.stack)
    why = missing(caps.stack)
    if why is not None:
        raise ConfigError(f"{cfg.role}.stack", why)
    if caps.stack == "stdlib":
        return StdlibEndpoint(cfg)
    if caps.stack == "libssl":
        return libssl.LibsslEndpoint(cfg)
    if caps.stack == "wolfssl":
        return wolfssl.WolfSSLEndpoint(cfg, sock=sock)
    if caps.stack == "tlslite-ng":
        return tlslite.TlsliteEndpoint(cfg, sock=sock)
    if wrapper_stacks.is_wrapper(caps.stack):
        made: Endpoint = wrapper_stacks.make(cfg)
        return made
    if caps.external:
        return PeerEndpoint(cfg)
    return pyopenssl.Endpoint(cfg, sock=sock, context=context, trace_hooks=trace_hooks)


def make_endpoints(client: EndpointConfig, server: EndpointConfig,
                   contexts: Mapping[str, Any],
                   socks: Mapping[str, Any] | None = None,
                   trace_hooks: bool = True) -> dict[str, Endpoint]:
    """Both endpoints; in-process ones first, so a refused setting starts no process.

    Raises:
        ConfigError, PeerError: as :func:`make_endpoint` (whatever was built is closed).
    """
    cfgs = {"client": client, "server": server}
    order = sorted(cfgs, key=lambda name: capabilities(cfgs[name].stack).external)
    made: dict[str, Endpoint] = {}
    try:
        for name in order:
            made[name] = make_endpoint(cfgs[name], contexts.get(name),
                                       (socks or {}).get(name), trace_hooks)
    except BaseException:
        for ep in made.values():
            ep.close()
        raise
    return {"client": made["client"], "server": made["server"]}
