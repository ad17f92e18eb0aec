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
"""

from biopair.endpoints.config import ConfigError, EndpointConfig
from biopair.engine.pair import Pair, RunEntry, RunResult
from biopair.engine.trace import Call
from biopair.outcome import DEADLOCK, LIMIT, Outcome, Pattern, PatternError, compile_pattern
from biopair.scenario.loader import Scenario, ScenarioError, find_scenarios, load_scenario
from biopair.scenario.runner import Failure, Verdict, run_scenario

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
