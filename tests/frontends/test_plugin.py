"""The pytest plugin, tested the way users meet it: with pytester."""

from __future__ import annotations

import pytest

GOOD = """
title = "good"
[[steps]]
run = ["client connect", "server accept"]
expect = { client = "WANT_READ 1", server = "WANT_READ 1" }
"""


def test_scenario_files_under_scenarios_are_collected(pytester: pytest.Pytester) -> None:
    pytester.mkdir("scenarios")
    pytester.path.joinpath("scenarios", "good.toml").write_text(GOOD)
    pytester.path.joinpath("other.toml").write_text("not = 'a scenario'")
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*scenarios/good.toml::good PASSED*"])


def test_a_bad_file_is_one_clear_collection_error_and_the_rest_still_run(
    pytester: pytest.Pytester,
) -> None:
    pytester.mkdir("scenarios")
    pytester.path.joinpath("scenarios", "good.toml").write_text(GOOD)
    pytester.path.joinpath("scenarios", "bad.toml").write_text(
        'title = "bad"\n[[steps]]\ncall = "client connect"\nexpect = "WANT_REED"\n'
    )
    # pytest's convention (its non-Python collection example): a file that cannot be
    # read is an ERROR while collecting, not a failed test.
    result = pytester.runpytest("--continue-on-collection-errors")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([
        "*ERROR collecting scenarios/bad.toml*",
        "*scenarios/bad.toml: steps[[]1[]].expect: unknown outcome 'WANT_REED'*",
    ])
    assert "Traceback" not in result.stdout.str()


def test_a_bad_file_lists_every_problem(pytester: pytest.Pytester) -> None:
    pytester.mkdir("scenarios")
    pytester.path.joinpath("scenarios", "bad.toml").write_text(
        'title = "bad"\n[client]\nverison = "TLSv1.3"\n[[steps]]\ncall = "client conect"\n'
        '[[steps]]\ncall = "client connect"\nexpect = "WANT_REED"\n'
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "*bad.toml: client.verison: unknown key (did you mean 'version'?)",
        "*bad.toml: steps[[]1[]].call: unknown op 'conect'*",
        "*bad.toml: steps[[]2[]].expect: unknown outcome 'WANT_REED'*",
    ])


def test_a_toml_named_on_the_command_line_is_collected_anywhere(
    pytester: pytest.Pytester,
) -> None:
    pytester.mkdir("cases")
    pytester.path.joinpath("cases", "good.toml").write_text(GOOD)
    pytester.path.joinpath("cases", "other.toml").write_text("not = 'a scenario'")
    result = pytester.runpytest("-v", "cases/good.toml")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*cases/good.toml::good PASSED*"])
    # Only the file named: its neighbour, outside a scenarios directory, is not collected.
    result = pytester.runpytest("-v", "cases")
    result.assert_outcomes()


def test_a_failing_scenario_lists_every_failed_expectation(
    pytester: pytest.Pytester,
) -> None:
    pytester.mkdir("scenarios")
    pytester.path.joinpath("scenarios", "wrong.toml").write_text(
        GOOD.replace('client = "WANT_READ 1"', 'client = "1"')
        + '[result]\nversion = "TLSv1.2"\n'
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*steps[[]1[]].expect.client (run client connect, server accept)*",
        "*result.version (client) (after the steps; after the run diverged)*",
        "*expected: 'TLSv1.2'*",
        "*actual:   'TLSv1.3'*",
    ])


def test_a_failing_scenario_shows_expected_actual_and_the_call_trace(
    pytester: pytest.Pytester,
) -> None:
    pytester.mkdir("scenarios")
    pytester.path.joinpath("scenarios", "wrong.toml").write_text(
        GOOD.replace('client = "WANT_READ 1"', 'client = "1"')
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*steps[[]1[]].expect.client (run client connect, server accept)*",
        "*expected: 1*",
        "*actual:   WANT_READ 1*",
        "*Call trace (4 calls):*",
    ])
    assert "biopair/runner.py" not in result.stdout.str()


def test_ini_option_names_other_directories(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nbiopair_dirs = tls-cases\n")
    pytester.mkdir("tls-cases")
    pytester.path.joinpath("tls-cases", "good.toml").write_text(GOOD)
    pytester.mkdir("scenarios")
    pytester.path.joinpath("scenarios", "ignored.toml").write_text("junk")
    pytester.runpytest().assert_outcomes(passed=1)


def test_pair_fixture_builds_and_closes_pairs(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_bytewise(biopair_pair):
            pair = biopair_pair(client={"version": "1.2"}, deliver="bytewise")
            result = pair.handshake()
            assert result.terminal is None
            assert pair.client.state()["version"] == "TLSv1.2"
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_runs_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.mkdir("scenarios")
    for i in range(4):
        pytester.path.joinpath("scenarios", f"s{i}.toml").write_text(GOOD)
    pytester.runpytest("-n", "2").assert_outcomes(passed=4)
