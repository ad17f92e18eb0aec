"""The wrapper stacks' declarations (what each supports and needs installed), apart from
the modules that build them, so those modules and :mod:`.stacks` share them without a
cycle."""

from __future__ import annotations

import re

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
    # A plain asyncio connection the application upgrades (loop.start_tls()).
    "asyncio-starttls": _base.capabilities("asyncio-starttls", extra=frozenset({"start_tls"})),
    "twisted": _base.capabilities("twisted", package=PACKAGES["twisted"]),
    "trio": _base.capabilities("trio", reading=False, package=PACKAGES["trio"]),
}


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
