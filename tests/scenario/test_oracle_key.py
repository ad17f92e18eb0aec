"""``[result] oracle``: a scenario may say what the transport oracle must find in a
direction (a known bug's duplication, say); bad values are refused at load, and the
finding is classified from the bytes."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from biopair.scenario.loader import load_scenario
from biopair.scenario.runner import ORACLE_MAX_SPANS, oracle_finding, run_scenario
from tests.helpers import bad_scenario

WRAPPED = ('title = "t"\n[client]\nstack = "python:biopair.endpoints.wrappers.example:make"\n'
           '[[steps]]\nrun = ["client handshake", "server accept"]\n'
           '[[steps]]\nrun = [{ call = "client send", data = "hello" }, "server read"]\n')


@pytest.mark.parametrize(
    ("result", "key", "message"),
    [
        ('oracle = "duplicated"\n', "result.oracle", "expected a table"),
        ('oracle = { "client->server" = "lost" }\n', "result.oracle.client->server",
         "unknown key"),
        ('oracle = { "client>server" = "twice" }\n', 'result.oracle."client>server"',
         "duplicated"),
        ('oracle = { "client>server" = 1 }\n', 'result.oracle."client>server"',
         "got int 1"),
        ('[result.client]\noracle = "lost"\n', "result.client.oracle", "unknown key"),
    ],
)
def test_bad_oracle_keys_are_one_line_naming_the_key(
    tmp_path: Path, result: str, key: str, message: str
) -> None:
    text = WRAPPED + ("[result]\n" + result if not result.startswith("[") else result)
    bad_scenario(tmp_path, text, key, message)


def test_an_oracle_key_without_a_wrapper_endpoint_is_refused(tmp_path: Path) -> None:
    bad_scenario(tmp_path, 'title = "t"\n[[steps]]\nrun = ["client connect", "server accept"]\n'
                           '[result.oracle]\n"client>server" = "lost"\n',
                 "result.oracle", "only with a wrapper endpoint")


def _run(tmp_path: Path, oracle: str) -> list[str]:
    path = tmp_path / "ok.toml"
    path.write_text(WRAPPED + oracle)
    verdict = run_scenario(load_scenario(path))
    return [f"{f.key}: {f.expected} / {f.actual}" for f in verdict.failures]


def test_a_clean_delivery_fails_a_scenario_that_expects_a_violation(tmp_path: Path) -> None:
    assert _run(tmp_path, "") == []
    assert _run(tmp_path, '[result.oracle]\n"client>server" = "delivered"\n') == []
    assert _run(tmp_path, '[result.oracle]\n"client>server" = "duplicated"\n') == [
        'result.oracle."client>server": the oracle finds duplicated / delivered']


SENT = random.Random(0).randbytes(40_000)  # aperiodic


@pytest.mark.parametrize(
    ("got", "finding"),
    [
        (SENT[:5000], "delivered"),
        (SENT[:3000] + SENT[1000:], "duplicated"),   # a span re-sent
        (SENT + SENT[:4096], "duplicated"),          # a retry from byte 0 after the end
        (SENT[:3000] + SENT[4000:], "lost"),         # a span skipped
        (SENT[:3000] + b"\xff\xfe" * 100, "corrupted"),  # bytes never sent
        (SENT[:3000] + SENT[5000:6000] + SENT[1000:2000], "corrupted"),  # both
    ],
)
def test_findings_are_classified_from_the_bytes(got: bytes, finding: str) -> None:
    assert oracle_finding(SENT, got) == finding


def test_a_periodic_payload_duplicated_by_a_retry_is_found(tmp_path: Path) -> None:
    # What pyOpenSSL #176 looks like with a size payload (36-byte period).
    sent = (b"abcdefghijklmnopqrstuvwxyz0123456789" * 2000)[:70_000]
    assert oracle_finding(sent, sent + sent[4464:4464 + 65_536]) == "duplicated"


def test_the_classification_is_bounded_in_spans() -> None:
    # Many small jumps: at most ORACLE_MAX_SPANS searches, then corrupted.
    got = b"".join(SENT[k:k + 100] for k in range(0, 110 * (ORACLE_MAX_SPANS + 8), 110))
    assert oracle_finding(SENT, got) == "corrupted"
