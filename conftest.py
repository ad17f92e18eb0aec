"""Top-level conftest: make biopair's pytest plugin available in this checkout.

When biopair is installed, its ``pytest11`` entry point has registered the plugin already;
otherwise (a plain checkout, or ``-p no:biopair``... which we respect) it is loaded here.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Register biopair's plugin unless the entry point did, or the user disabled it."""
    pm = config.pluginmanager
    if pm.has_plugin("biopair") or pm.is_blocked("biopair"):
        return
    from biopair import plugin

    if not pm.is_registered(plugin):
        pm.register(plugin, "biopair")
