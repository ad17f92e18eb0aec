"""Shared SSL contexts (biopair.search.explore.ContextCache): every shipped scenario
makes the same calls on reused contexts as on fresh ones, or is refused reuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from biopair.scenario.loader import ScenarioError, load_scenario
from biopair.scenario.model import Scenario
from biopair.scenario.runner import Verdict, run_scenario
from biopair.search import explore as reuse
from biopair.search.explore import ContextCache, fingerprint

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").rglob("*.toml"))


def _lean(scenario: Scenario, cache: ContextCache | None) -> Verdict:
    return run_scenario(scenario, protocol=False, summary=False,
                        contexts=None if cache is None else cache.for_scenario)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: str(p.relative_to(ROOT)))
def test_reused_contexts_make_the_same_calls(path: Path) -> None:
    try:
        scenario = load_scenario(path)
    except ScenarioError:
        pytest.skip("not loadable here")
    if any(cfg.stack in ("openssl-cli", "gnutls-cli")
           for cfg in (scenario.client, scenario.server)):
        pytest.skip("external peer: no pyOpenSSL context to share")
    full = run_scenario(scenario)  # fresh contexts, whole protocol recorded
    if full.skipped is not None:
        pytest.skip(full.skipped)
    cache = ContextCache()
    runs = [fingerprint(_lean(scenario, cache)) for _ in range(3)]
    if not reuse.reusable(scenario):
        assert cache.built == 0  # resumption builds its own contexts
    assert runs == [fingerprint(full)] * 3


def test_resumption_is_never_given_cached_contexts() -> None:
    scenario = load_scenario(ROOT / "scenarios/tls/resume-tls13.toml")
    cache = ContextCache()
    assert not reuse.reusable(scenario)
    assert cache.for_scenario(scenario) == {}


def test_a_difference_turns_reuse_off() -> None:
    cache = ContextCache()
    runs = iter([("a",), ("b",)])
    assert not cache.proves(("a",), lambda: next(runs))
    assert not cache.enabled
    scenario = load_scenario(ROOT / "scenarios/tls/tls13-full-handshake.toml")
    assert cache.for_scenario(scenario) == {}


def test_cache_for_proves_once_per_scenario() -> None:
    scenario = load_scenario(ROOT / "scenarios/tls/tls13-full-handshake.toml")
    seen: list[object] = []

    def run(cache: ContextCache | None) -> Verdict:
        seen.append(cache)
        return _lean(scenario, cache)

    reuse._CACHES.pop(scenario.path, None)
    first = reuse.cache_for(scenario, run)
    assert first.enabled and first.built == 2 and len(seen) == 3 and seen[0] is None
    assert reuse.cache_for(scenario, run) is first and len(seen) == 3
