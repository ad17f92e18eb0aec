"""biopair's reading of raw results agrees with what pyOpenSSL's public API raises.

Two identical pairs (the test PKI is deterministic) take the same path: one is driven
through biopair's raw calls, the other through pyOpenSSL's public methods.  For every call
the exception (or return value) pyOpenSSL raised must be what biopair predicted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from OpenSSL import SSL

from biopair import EndpointConfig, Pair
from tests.helpers import pyopenssl

Script = list[tuple[str, ...]]


def _public(conn: SSL.Connection, op: str, arg: Any) -> str:
    methods: dict[str, Callable[[], Any]] = {
        "connect": conn.do_handshake,
        "accept": conn.do_handshake,
        "read": lambda: conn.recv(16384),
        "write": lambda: conn.send(arg),
        "shutdown": conn.shutdown,
    }
    try:
        value = methods[op]()
    except SSL.SysCallError as exc:
        return f"SysCallError({exc.args[0]}, {exc.args[1]!r})"
    except SSL.Error as exc:
        if type(exc) is SSL.Error:
            return f"Error({[r[2] for r in exc.args[0]]!r})"
        return f"{type(exc).__name__}()"
    return f"return {value!r}"


HANDSHAKE: Script = [
    ("call", "client", "connect"),
    ("move", "client>server"),
    ("call", "server", "accept"),
    ("move", "server>client"),
    ("call", "client", "connect"),
    ("move", "client>server"),
    ("call", "server", "accept"),
]

SCRIPTS: dict[str, tuple[dict[str, Any], dict[str, Any], Script]] = {
    "handshake and data": ({}, {}, [
        *HANDSHAKE,
        ("call", "client", "write", "hello"),
        ("move", "client>server"),
        ("call", "server", "read"),
        ("call", "server", "read"),
    ]),
    "close_notify": ({}, {}, [
        *HANDSHAKE,
        ("call", "client", "shutdown"),
        ("move", "client>server"),
        ("call", "server", "read"),
        ("call", "server", "shutdown"),
        ("move", "server>client"),
        ("call", "client", "shutdown"),
    ]),
    "unexpected eof": ({}, {}, [
        *HANDSHAKE,
        ("eof", "client>server"),
        ("call", "server", "read"),
    ]),
    "unexpected eof mid-handshake": ({}, {}, [
        ("call", "client", "connect"),
        ("eof", "server>client"),
        ("call", "client", "connect"),
    ]),
    "verify failure, then the call again": ({"trust": "other-ca"}, {}, [
        *HANDSHAKE[:4],
        ("call", "client", "connect"),
        ("call", "client", "connect"),
    ]),
    "eof ignored by option": ({}, {"options": ["IGNORE_UNEXPECTED_EOF"]}, [
        *HANDSHAKE,
        ("eof", "client>server"),
        ("call", "server", "read"),
    ]),
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_raw_classification_agrees_with_pyopenssl(name: str) -> None:
    client_kw, server_kw, script = SCRIPTS[name]
    client = EndpointConfig(role="client", **client_kw)
    server = EndpointConfig(role="server", **server_kw)
    with Pair(client, server) as raw, Pair(client, server) as public:
        compared = 0
        for action, *args in script:
            if action == "move":
                raw.move(args[0])
                public.move(args[0])
            elif action == "eof":
                raw.eof(args[0])
                public.eof(args[0])
            else:
                endpoint, op, *rest = args
                data = rest[0].encode() if rest else None
                call = raw.call(endpoint, op, data=data)
                said = _public(pyopenssl(public, endpoint).conn, op, data)
                assert call.pyopenssl == said, (endpoint, op, call)
                compared += 1
        assert compared >= 2
