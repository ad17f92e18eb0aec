"""The wrapper stacks: their declarations, what each needs installed, and building one.

Imports no framework: each is imported when its endpoint is built (Twisted and trio
are optional, the ``wrappers`` extra).
"""

from __future__ import annotations

import importlib
from typing import Any

from biopair.endpoints.config import EndpointConfig
from biopair.endpoints.wrappers.declared import (
    CAPABILITIES,
    PACKAGES,
    PYTHON_PREFIX,
    python_capabilities,
)

__all__ = ["CAPABILITIES", "PYTHON_PREFIX", "is_wrapper", "make", "missing",
           "python_capabilities"]


def is_wrapper(stack: str) -> bool:
    """True for a wrapper stack (named, or ``python:...``)."""
    return stack in CAPABILITIES or stack.startswith(PYTHON_PREFIX)


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
    if cfg.stack == "asyncio-starttls":
        from biopair.endpoints.wrappers.asyncio import AsyncioStartTLSEndpoint

        return AsyncioStartTLSEndpoint(cfg)
    if cfg.stack == "trio":
        from biopair.endpoints.wrappers.trio import TrioEndpoint

        return TrioEndpoint(cfg)
    from biopair.endpoints.wrappers.python import PythonEndpoint

    return PythonEndpoint(cfg)
