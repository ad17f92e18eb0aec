"""biopair: a BIO-pair simulation and test harness for TLS.

Two pyOpenSSL connections sit on memory BIOs; a scheduler moves bytes between them and
starves reads and writes on purpose; every SSL call is recorded with what OpenSSL itself
returned (raw return value, SSL_get_error() name, error queue) and what pyOpenSSL would
have raised.  Scenario files (TOML) assert the exact sequence of outcomes.

Typical use from Python::

    from biopair import Pair
    with Pair(deliver="bytewise") as pair:
        result = pair.handshake()
        print(result.outcomes["client"])

The names below are loaded on first use (PEP 562): ``import biopair`` -- which every
submodule import does first, the pytest plugin's included -- must not load OpenSSL and
cryptography in every pytest session of every project that has biopair installed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what mypy and IDEs see; at run time __getattr__ imports on demand
    from biopair.endpoints.config import ConfigError, EndpointConfig
    from biopair.engine.pair import Pair, RunEntry, RunResult
    from biopair.engine.trace import Call
    from biopair.outcome import DEADLOCK, LIMIT, Outcome, Pattern, PatternError, compile_pattern
    from biopair.scenario.loader import Scenario, ScenarioError, find_scenarios, load_scenario
    from biopair.scenario.runner import Failure, Verdict, run_scenario

#: Where each public name lives (the module is imported when the name is first used).
_EXPORTS: dict[str, str] = {
    "ConfigError": "biopair.endpoints.config",
    "EndpointConfig": "biopair.endpoints.config",
    "Pair": "biopair.engine.pair",
    "RunEntry": "biopair.engine.pair",
    "RunResult": "biopair.engine.pair",
    "Call": "biopair.engine.trace",
    "DEADLOCK": "biopair.outcome",
    "LIMIT": "biopair.outcome",
    "Outcome": "biopair.outcome",
    "Pattern": "biopair.outcome",
    "PatternError": "biopair.outcome",
    "compile_pattern": "biopair.outcome",
    "Scenario": "biopair.scenario.loader",
    "ScenarioError": "biopair.scenario.loader",
    "find_scenarios": "biopair.scenario.loader",
    "load_scenario": "biopair.scenario.loader",
    "Failure": "biopair.scenario.runner",
    "Verdict": "biopair.scenario.runner",
    "run_scenario": "biopair.scenario.runner",
}

__all__ = [
    "DEADLOCK",
    "LIMIT",
    "Call",
    "ConfigError",
    "EndpointConfig",
    "Failure",
    "Outcome",
    "Pair",
    "Pattern",
    "PatternError",
    "RunEntry",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "Verdict",
    "compile_pattern",
    "find_scenarios",
    "load_scenario",
    "run_scenario",
]


# Hidden from type checkers: they see the TYPE_CHECKING imports above, and a visible
# module __getattr__ would make every misspelt name (``biopair.Pairr``) type as Any.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        """Import a public name's module on first use and cache the name here.

        Raises:
            AttributeError: for a name biopair does not export.
        """
        module = _EXPORTS.get(name)
        if module is None:
            raise AttributeError(f"module 'biopair' has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value  # later look-ups skip __getattr__
        return value


def __dir__() -> list[str]:
    """The module's names, the not-yet-loaded public ones included."""
    return sorted({*globals(), *__all__})
