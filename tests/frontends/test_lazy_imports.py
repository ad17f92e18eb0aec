"""Start-up stays light: the plugin, collection, ``biopair --help`` and ``biopair diff``
load neither OpenSSL nor cryptography; the public names still resolve on first use."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import biopair

HEAVY = ("OpenSSL", "cryptography")
EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"
#: Prints the heavy modules loaded when the interpreter exits.
_REPORT = ("import atexit, sys; atexit.register(lambda: print('HEAVY', sorted({m.split('.')[0] "
           f"for m in sys.modules}} & set({HEAVY!r})), file=sys.stderr)); ")


def _heavy(code: str) -> tuple[list[str], subprocess.CompletedProcess[str]]:
    proc = subprocess.run([sys.executable, "-c", _REPORT + code], capture_output=True,
                          text=True, timeout=60)
    line = [ln for ln in proc.stderr.splitlines() if ln.startswith("HEAVY ")][-1]
    return json.loads(line[len("HEAVY "):].replace("'", '"')), proc


@pytest.mark.parametrize("module", ["biopair", "biopair.plugin", "biopair.cli",
                                    "biopair.outcome", "biopair.views.diff"])
def test_importing_loads_no_tls_library(module: str) -> None:
    heavy, proc = _heavy(f"import {module}")
    assert proc.returncode == 0, proc.stderr
    assert heavy == []


def test_the_probe_sees_a_tls_library_when_one_is_used() -> None:
    heavy, _ = _heavy("import biopair; biopair.Pair")
    assert heavy == list(HEAVY)


@pytest.mark.parametrize("argv", [
    ["--help"],
    ["diff", str(EXAMPLES / "run-ossl31.json"), str(EXAMPLES / "run-ossl40.json")],
])
def test_cli_help_and_diff_load_no_tls_library(argv: list[str]) -> None:
    heavy, proc = _heavy(f"import sys; from biopair.cli import main; sys.exit(main({argv!r}))")
    assert proc.returncode in (0, 1), proc.stderr
    assert proc.stdout
    assert heavy == []


def test_public_names_resolve_lazily() -> None:
    assert set(biopair.__all__) == set(biopair._EXPORTS)
    assert set(biopair.__all__) <= set(dir(biopair))
    from biopair.engine.pair import Pair
    from biopair.outcome import Outcome

    assert biopair.Pair is Pair and biopair.Outcome is Outcome
    for name in biopair.__all__:
        assert getattr(biopair, name) is not None
    missing = "nope"
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        getattr(biopair, missing)


# A conftest for pytester sessions: register the plugin as the repo's conftest does (the
# entry point may be missing in a plain checkout) and report the heavy modules at the end.
_CONFTEST = textwrap.dedent(f"""
    import sys

    def pytest_configure(config):
        from biopair import plugin
        if not config.pluginmanager.is_registered(plugin):
            config.pluginmanager.register(plugin, "biopair")

    def pytest_unconfigure(config):
        heavy = sorted({{m.split(".")[0] for m in sys.modules}} & set({HEAVY!r}))
        sys.stdout.write(f"HEAVY={{','.join(heavy) or '-'}}\\n")
""")
_SCENARIO = """
title = "a handshake"
[[steps]]
run = ["client connect", "server accept"]
"""


@pytest.fixture
def session(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(_CONFTEST)
    pytester.makepyfile(test_plain="def test_nothing():\n    assert True\n")
    return pytester


def test_a_session_without_scenarios_loads_no_tls_library(session: pytest.Pytester) -> None:
    result = session.runpytest_subprocess("-p", "no:cacheprovider", "-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["HEAVY=-"])


def test_a_session_of_python_tests_beside_scenario_files_stays_light(
    session: pytest.Pytester,
) -> None:
    # Collecting a scenario validates it (a bad one is a collection error, issue 16), which
    # loads the loader and so OpenSSL; a session that collects none stays light.
    (session.path / "scenarios").mkdir()
    (session.path / "scenarios" / "hs.toml").write_text(_SCENARIO)
    result = session.runpytest_subprocess("-p", "no:cacheprovider", "-s", "test_plain.py")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["HEAVY=-"])
    # Collecting the scenario does load them: the probe can tell.
    result = session.runpytest_subprocess("-p", "no:cacheprovider", "-s")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["HEAVY=OpenSSL,cryptography"])
