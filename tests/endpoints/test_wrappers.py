"""Wrapper endpoints (asyncio, Twisted, trio, a python: sans-I/O object) against a
pyOpenSSL peer: handshakes, transfers each way under starved deliveries with the
transport oracle, STRANDED, and the python: protocol's errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from biopair.endpoints.config import EndpointConfig
from biopair.endpoints.registry import capabilities
from biopair.engine.pair import Pair, RunEntry
from biopair.outcome import compile_pattern
from biopair.scenario.loader import load_scenario
from biopair.scenario.model import ScenarioError
from biopair.scenario.runner import run_scenario

EXAMPLE = "python:biopair.endpoints.wrappers.example:make"
STACKS = ("asyncio", "twisted", "trio", EXAMPLE)
ROLES = ("client", "server")


def _pair(stack: str, role: str, deliver: object = "all", **kw: object) -> Pair:
    other = "server" if role == "client" else "client"
    cfgs = {role: EndpointConfig(role=role, stack=stack, **kw),  # type: ignore[arg-type]
            other: EndpointConfig(role=other, **kw)}  # type: ignore[arg-type]
    return Pair(cfgs["client"], cfgs["server"], deliver=deliver,  # type: ignore[arg-type]
                record=False, max_calls=10**7)


def _handshake(pair: Pair, role: str) -> None:
    peer_op = "accept" if role == "client" else "connect"
    other = "server" if role == "client" else "client"
    run = pair.run([(role, "handshake"), (other, peer_op)] if role == "client"
                   else [(other, peer_op), (role, "handshake")])
    assert run.terminal is None, run
    assert run.outcomes[role][-1].ret == 1


def _transfer(pair: Pair, sender: str, receiver: str, payload: bytes) -> None:
    wrapper_sends = pair.endpoints[sender].stack not in ("pyopenssl",)
    send_op, read_op = ("send", "read") if wrapper_sends else ("write", "recv")
    first = [RunEntry(sender, send_op, data=payload)]
    ep = pair.endpoints[receiver]
    before = len(ep.received)  # type: ignore[attr-defined]
    while len(ep.received) - before < len(payload):  # type: ignore[attr-defined]
        run = pair.run([*first, RunEntry(receiver, read_op, size=65536)])
        first = []
        assert run.terminal is None, run
    # The transport oracle: exactly what was sent, nothing lost, doubled or reordered.
    assert bytes(ep.received)[before:] == payload  # type: ignore[attr-defined]
    assert bytes(pair.sent[sender])[-len(payload):] == payload


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_bytewise_handshake(stack: str, role: str, version: str) -> None:
    with _pair(stack, role, "bytewise", version=version) as pair:
        _handshake(pair, role)
        state = pair.endpoints[role].state()
        assert state is not None
        assert state["version"] == f"TLSv{version}"


# The full sizes (100 KB bytewise, 1 MiB at 7 bytes per move) take longer than a test may
# on a shared machine: benchmarks/bench_wrappers.py runs them, with the same oracle.
PAYLOAD_8K = bytes(range(256)) * 32  # 8 KiB (trio: a thread hand-off per call)
PAYLOAD_1M = bytes(range(256)) * 4096  # 1 MiB


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("direction", ["wrapper-sends", "wrapper-receives"])
@pytest.mark.parametrize(("deliver", "payload"), [
    ("bytewise", PAYLOAD_8K),
    ("record", PAYLOAD_1M),
    (7, PAYLOAD_8K),
], ids=["8k-bytewise", "1m-record", "8k-7"])
def test_transfer(stack: str, direction: str, deliver: object, payload: bytes) -> None:
    if stack == "trio" and deliver != "record":
        payload = payload[:2048]  # a thread hand-off per call: 2 KiB stays under 5 s
    with _pair(stack, "client", deliver) as pair:
        _handshake(pair, "client")
        if direction == "wrapper-sends":
            _transfer(pair, "client", "server", payload)
        else:
            _transfer(pair, "server", "client", payload)


@pytest.mark.parametrize("stack", STACKS)
def test_close_is_closed_once_the_peer_answers(stack: str) -> None:
    with _pair(stack, "client") as pair:
        _handshake(pair, "client")
        run = pair.run([RunEntry("client", "close"), RunEntry("server", "read")])
        assert run.outcomes["server"][-1].error == "ZERO_RETURN", run  # close_notify came
        pair.call("server", "shutdown")
        pair.move("server>client")
        end = pair.run([RunEntry("client", "close")])
        assert end.outcomes["client"][-1].error == "CLOSED", end


def test_pending_and_closed_are_pattern_names() -> None:
    pattern = compile_pattern("PENDING+ 1 CLOSED")
    assert pattern.text
    assert compile_pattern('WANT_READ STRANDED "_appSendBuffer"').allows_terminal


def test_a_stall_with_bytes_in_a_wrapper_is_stranded_not_deadlock() -> None:
    # The client pauses reading before the server's flight arrives: the bytes sit in
    # the socket buffer, unread, and the run says where.
    with _pair("twisted", "client") as pair:
        pair.call("client", "handshake")
        pair.call("client", "pause_reading")
        run = pair.run([RunEntry("server", "accept"), RunEntry("client", "handshake")])
        assert run.terminal == "STRANDED", run
        assert run.end is not None
        assert any("unread in the socket buffer (reading paused)" in r
                   for r in run.end.reasons), run.end


def test_a_stall_without_wrappers_is_still_deadlock() -> None:
    with Pair() as pair:
        pair.pause("server>client")
        run = pair.run([("client", "connect"), ("server", "accept")])
        assert run.terminal == "DEADLOCK"


def test_the_oracle_reports_bytes_the_receiver_never_got(tmp_path: Path) -> None:
    # A wrapper that drops every other byte it is asked to send: the oracle names it.
    module = tmp_path / "lossy_wrapper.py"
    module.write_text(
        "from biopair.endpoints.wrappers.example import MemoryWrapper\n"
        "class Lossy(MemoryWrapper):\n"
        "    def send(self, data):\n"
        "        super().send(bytes(data)[::2])\n"
        "        return len(data)\n"
        "def make(cfg):\n"
        "    return Lossy(cfg)\n")
    scenario = tmp_path / "lossy.toml"
    scenario.write_text(
        'title = "lossy"\n[client]\nstack = "python:lossy_wrapper:make"\n'
        '[[steps]]\nrun = ["client handshake", "server accept"]\n'
        '[[steps]]\nrun = [{ call = "client send", data = "abcdef" }, "server read"]\n')
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        verdict = run_scenario(load_scenario(scenario))
    finally:
        sys.path.remove(str(tmp_path))
    assert not verdict.passed
    assert any(f.key.startswith("oracle.client->server") for f in verdict.failures), \
        verdict.report()


def test_a_malformed_python_stack_is_one_line(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.toml"
    scenario.write_text('title = "bad"\n[client]\nstack = "python:no colon"\n'
                        '[[steps]]\nrun = ["client handshake", "server accept"]\n')
    with pytest.raises(ScenarioError, match=r"client\.stack"):
        load_scenario(scenario)


def test_a_python_stack_that_cannot_be_imported_is_a_scenario_error(tmp_path: Path) -> None:
    scenario = tmp_path / "missing.toml"
    scenario.write_text('title = "m"\n[client]\nstack = "python:no_such_module_here:make"\n'
                        '[[steps]]\nrun = ["client handshake", "server accept"]\n')
    with pytest.raises(ScenarioError, match="cannot import 'no_such_module_here'"):
        run_scenario(load_scenario(scenario))


def test_wrappers_declare_application_ops_only() -> None:
    for stack in STACKS:
        caps = capabilities(stack)
        assert {"handshake", "send", "recv", "close"} <= caps.ops
        assert not caps.raw_returns
        assert "write" not in caps.ops
    assert "pause_reading" not in capabilities("trio").ops
    assert "send" not in capabilities("pyopenssl").ops


def test_the_fixture_builds_a_pair_with_your_wrapper(biopair_pair: object) -> None:
    pair = biopair_pair(client={"stack": EXAMPLE}, deliver="bytewise")  # type: ignore[operator]
    run = pair.run([("client", "handshake"), ("server", "accept")])
    assert run.terminal is None, run
    payload = b"x" * 3000
    first = [RunEntry("client", "send", data=payload)]
    while len(pair.server.received) < len(payload):
        step = pair.run([*first, RunEntry("server", "read")])
        first = []
        assert step.terminal is None, step
    assert bytes(pair.server.received) == payload


def test_the_docs_examples_are_true(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "wrappers.md").read_text()
    test = doc.split("## Test your own wrapper in under 20 lines")[1]
    code = test.split("```python\n")[1].split("```")[0]
    assert len(code.strip().splitlines()) < 20
    namespace: dict[str, object] = {}
    exec(code.replace("python:mypkg.tls:make", EXAMPLE), namespace)
    namespace["test_my_wrapper_survives_bytewise_delivery"]()  # type: ignore[operator]
    toml = doc.split("Its scenario")[1].split("```toml\n")[1].split("```")[0]
    (tmp_path / "example.toml").write_text(toml)
    assert run_scenario(load_scenario(tmp_path / "example.toml")).passed


def test_an_exception_from_a_send_retried_in_the_same_call_is_its_outcome(
        tmp_path: Path) -> None:
    # A send that is pending once and raises when asked again (pyOpenSSL's sendall retry
    # before 25.2: "bad write retry"): what the wrapper raised is the call's outcome, in
    # the report, never a traceback out of the harness.
    module = tmp_path / "refusing_wrapper.py"
    module.write_text(
        "from biopair.endpoints.wrappers.example import MemoryWrapper\n"
        "class Refusing(MemoryWrapper):\n"
        "    asked = 0\n"
        "    def send(self, data):\n"
        "        self.asked += 1\n"
        "        if self.asked == 1:\n"
        "            return 0\n"
        "        raise ValueError('retry refused')\n"
        "def make(cfg):\n"
        "    return Refusing(cfg)\n")
    scenario = tmp_path / "refusing.toml"
    scenario.write_text(
        'title = "refusing"\n[client]\nstack = "python:refusing_wrapper:make"\n'
        '[[steps]]\nrun = ["client handshake", "server accept"]\n'
        '[[steps]]\ncall = "client send"\ndata = "abcdef"\nexpect = "SSL"\n')
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        verdict = run_scenario(load_scenario(scenario))
    finally:
        sys.path.remove(str(tmp_path))
    sends = [c for c in verdict.trace.calls if c.op == "send"]
    assert len(sends) == 1 and sends[0].error == "SSL", verdict.report()
    assert "retry refused" in sends[0].reasons[0]
