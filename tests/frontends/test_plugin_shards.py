"""The plugin's shard items (--biopair-explore, --biopair-sweep): one process, and two
xdist gateways (``--tx popen --tx popen``, execnet), give the same union of runs."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from biopair.scenario.loader import load_scenario
from biopair.search import explore as ex
from biopair.search.sweep import sweep

ROOT = Path(__file__).resolve().parents[2]
FALSE_CLAIM = ROOT / "scenarios/explore/false-claim-one-want-read.toml"
SWEEP = """title = "sweep a short stream"
[[steps]]
run = ["client connect", "server accept"]
[sweep]
fault = "truncate"
link = "client>server"
stop = 6
"""
# Registers the plugin (a plain checkout may lack the entry point) and writes every shard
# item's runs, as the controller receives them, to runs.json.
CONFTEST = textwrap.dedent("""
    import json

    RUNS = {}

    def pytest_configure(config):
        from biopair import plugin
        if not config.pluginmanager.is_registered(plugin):
            config.pluginmanager.register(plugin, "biopair")

    def pytest_runtest_logreport(report):
        if report.when == "call":
            for key, value in report.user_properties:
                RUNS.setdefault(key, []).extend(value)

    def pytest_sessionfinish(session):
        if not hasattr(session.config, "workerinput"):
            with open("runs.json", "w") as fh:
                json.dump({k: sorted(v) for k, v in RUNS.items()}, fh)
""")


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "claim.toml").write_text(FALSE_CLAIM.read_text())
    (pytester.path / "scenarios" / "cut.toml").write_text(SWEEP)
    return pytester


ARGS = ("-p", "no:cacheprovider", "--biopair-no-golden", "--biopair-explore",
        "--biopair-sweep", "--biopair-shards", "2", "--biopair-explore-budget", "16")


def _runs(project: pytest.Pytester) -> dict[str, list[list[object]]]:
    data: dict[str, list[list[object]]] = json.loads((project.path / "runs.json").read_text())
    return data


def _single_process_search(project: pytest.Pytester) -> list[list[object]]:
    sc = load_scenario(project.path / "scenarios" / "claim.toml")
    report = ex.explore(sc, seed=0, budget=16, store=None, keep_runs=True)
    return sorted([r.index, r.schedule, r.klass, r.kind] for r in report.runs)


@pytest.mark.parametrize("gateways", [(), ("-p", "xdist", "-d", "--tx", "popen", "--tx",
                                           "popen")], ids=["one-process", "two-gateways"])
def test_the_union_of_shards_is_one_search(project: pytest.Pytester,
                                           gateways: tuple[str, ...]) -> None:
    result = project.runpytest_inprocess(*ARGS, *gateways)
    # claim: its scenario item passes (whole flights), 2 explore shards refute; cut: its
    # item and 2 sweep shards pass.
    result.assert_outcomes(passed=4, failed=2)
    runs = _runs(project)
    assert runs["biopair_explore"] == _single_process_search(project)
    cut = load_scenario(project.path / "scenarios" / "cut.toml")
    assert cut.sweep is not None
    whole = sweep(cut, cut.sweep)
    assert runs["biopair_sweep"] == [[r.position, r.klass, r.hang, False]
                                     for r in whole.results]
    result.stdout.fnmatch_lines(["*refutes the scenario*", "*shrunk: s0.1*",
                                 "*replay: biopair explore*claim.toml --replay 's0.1'*"])
    if gateways:
        result.stdout.fnmatch_lines(["created: 2/2 workers"])


def test_shard_items_are_collected(project: pytest.Pytester) -> None:
    # Collecting a scenario file validates it (a bad one is a collection error, issue 16),
    # so collection loads the loader and with it OpenSSL; the shard items are still
    # counted from the TOML alone.
    result = project.runpytest_subprocess(*ARGS, "--collect-only", "-q")
    result.stdout.fnmatch_lines(["*claim.toml::claim[[]explore 1/2[]]*",
                                 "*cut.toml::cut[[]sweep 2/2[]]*"])


@pytest.mark.parametrize("args", [("--biopair-shards", "0"),
                                  ("--biopair-explore-budget", "1000001"),
                                  ("--biopair-explore-seed", "x")])
def test_bad_shard_options_are_one_usage_line(project: pytest.Pytester,
                                              args: tuple[str, ...]) -> None:
    result = project.runpytest_inprocess("--biopair-explore", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert args[0] in result.stderr.str()


def test_a_shard_of_a_scenario_whose_requires_fail_is_skipped(
        project: pytest.Pytester) -> None:
    (project.path / "scenarios" / "cut.toml").unlink()
    text = (project.path / "scenarios" / "claim.toml").read_text()
    (project.path / "scenarios" / "claim.toml").write_text(
        'requires = ["openssl >= 99"]\n' + text)
    result = project.runpytest_inprocess("-p", "no:cacheprovider", "--biopair-no-golden",
                                         "--biopair-explore", "--biopair-shards", "2",
                                         "-rs")
    result.assert_outcomes(skipped=3)
