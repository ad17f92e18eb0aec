"""The wrapper stacks: their declarations, what each needs installed, and building one.

Imports no framework: each is imported when its endpoint is built (Twisted and trio
are optional, the ``wrappers`` extra).
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from biopair.endpoints.config import EndpointConfig
from biopair.endpoints.protocol import Capabilities
from biopair.endpoints.wrappers import _base

#: A user's sans-I/O wrapper: ``python:package.module:factory``.
PYTHON_PREFIX = "python:"
_PYTHON_NAME = re.compile(r"python:([A-Za-z_][\w.]*):([A-Za-z_]\w*)\Z")
#: What to install for each framework.
PACKAGES = {"twisted": "pip install twisted (the wrappers extra)",
            "trio": "pip install trio (the wrappers extra)"}
#: Every named wrapper stack's declaration (asyncio is the standard library's).
CAPABILITIES: dict[str, Capabilities] = {
    "asyncio": _base.capabilities("asyncio"),
    "twisted": _base.capabilities("twisted", package=PACKAGES["twisted"]),
    "trio": _base.capabilities("trio", reading=False, package=PACKAGES["trio"]),
}


def is_wrapper(stack: str) -> bool:
    """True for a wrapper stack (named, or ``python:...``)."""
    return stack in CAPABILITIES or stack.startswith(PYTHON_PREFIX)


def python_capabilities(stack: str) -> Capabilities:
    """The declaration of a ``python:package.module:factory`` stack (the sans-I/O
    protocol has no pause_reading/resume_reading).

    Raises:
        ValueError: for a malformed name.
    """
    if not _PYTHON_NAME.match(stack):
        raise ValueError(f"a user's wrapper is named python:package.module:factory, "
                         f"not {stack!r}")
    return _base.capabilities(stack, reading=False)


def missing(stack: str) -> str | None:
    """Why a framework cannot be imported, naming the package (None: it can)."""
    module = {"twisted": "twisted.protocols.tls", "trio": "trio"}.get(stack)
    if module is None:
        return None
    try:
        importlib.import_module(module)
    except ImportError:
        return f"{stack} is not installed ({PACKAGES[stack]})"
    return None


def make(cfg: EndpointConfig) -> Any:
    """The wrapper endpoint for ``cfg.stack``."""
    if cfg.stack == "twisted":
        from biopair.endpoints.wrappers.twisted import TwistedEndpoint

        return TwistedEndpoint(cfg)
    if cfg.stack == "asyncio":
        from biopair.endpoints.wrappers.asyncio import AsyncioEndpoint

        return AsyncioEndpoint(cfg)
    if cfg.stack == "trio":
        from biopair.endpoints.wrappers.trio import TrioEndpoint

        return TrioEndpoint(cfg)
    from biopair.endpoints.wrappers.python import PythonEndpoint

    return PythonEndpoint(cfg)
