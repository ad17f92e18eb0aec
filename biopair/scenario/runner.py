"""Running a validated scenario: steps in order, then the ``[result]`` checks, a verdict.

Data flows one way: :class:`~biopair.scenario.model.Scenario` -> the scenario fitted to the
stack in use (:mod:`biopair.scenario.resolve`) -> :class:`~biopair.engine.pair.Pair` ->
:class:`~biopair.engine.trace.Trace` -> :class:`Verdict`.  The runner reads no environment
variable: what depends on where it runs (the stack's versions, whether a missing external
TLS program is a skip or an error) is passed in by the front ends.  The first failing
expectation stops the run (later steps would act on a state the scenario did not expect);
the verdict keeps the whole trace up to that point.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from biopair.endpoints import registry
from biopair.endpoints.config import EXPORTER_LABEL, EXPORTER_LENGTH, ConfigError
from biopair.endpoints.peers import PEER_STACKS, PeerError, peer_available
from biopair.endpoints.peers import program_for as peer_program
from biopair.endpoints.pyopenssl import build_context
from biopair.endpoints.registry import missing as missing_library
from biopair.endpoints.versions import stack_versions
from biopair.endpoints.wrappers.stacks import is_wrapper
from biopair.engine.pair import Pair, Schedule
from biopair.engine.trace import AlertEvent, Call, MessageEvent, RecordEvent, Trace
from biopair.outcome import DEADLOCK, LIMIT, Outcome, Pattern, summarize, wants
from biopair.scenario.conditions import Versions
from biopair.scenario.model import (
    CallStep,
    CheckStep,
    FaultStep,
    HoldStep,
    JunkStep,
    LinkStep,
    ModeStep,
    MoveStep,
    ResultSpec,
    RunStep,
    Scenario,
    ScenarioError,
    Sends,
    Step,
    Versioned,
)
from biopair.scenario.resolve import for_stack, unmet_requires
from biopair.transport.faults import Fault, FaultError


@dataclass(frozen=True)
class Failure:
    """One expectation that did not hold.

    Attributes:
        key: the scenario key path that failed (``steps[3].expect.client``).
        expected: what the scenario said.
        actual: what OpenSSL did, in the same notation.
        step: 0-based index of the step, or None for ``[result]`` checks.
    """

    key: str
    expected: str
    actual: str
    step: int | None = None


@dataclass
class Verdict:
    """The outcome of running one scenario.

    Attributes:
        scenario: what ran.
        failures: expectations that did not hold (empty when passed).
        trace: every event of the run.
        states: each endpoint's final state (version, cipher, ...).
        streams: per link, what its sender wrote: ``{"bytes": N, "records": M}``.
    """

    scenario: Scenario
    failures: list[Failure]
    trace: Trace
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    streams: dict[str, dict[str, int]] = field(default_factory=dict)
    #: why the scenario did not run (its ``requires`` are not met), or None.
    skipped: str | None = None

    @property
    def passed(self) -> bool:
        """True when every expectation held (or the scenario was skipped)."""
        return not self.failures

    def report(self) -> str:
        """A failure report: each mismatch, expected vs actual, then the call trace."""
        sc = self.scenario
        lines = [f"{sc.path}: {sc.title}"]
        for f in self.failures:
            where = describe_step(sc.steps[f.step]) if f.step is not None else "after the steps"
            lines.append(f"  {f.key} ({where})")
            lines.append(f"    expected: {f.expected}")
            lines.append(f"    actual:   {f.actual}")
        lines.append(f"  link: {self.trace.link}; deliver: {_deliver_text(sc.deliver)}")
        lines.append(f"Call trace ({len(self.trace.calls)} calls):")
        lines.append(self.trace.format_calls())
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """The JSON form ``biopair run --json`` prints for each scenario."""
        sc = self.scenario
        return {
            "file": sc.path,
            "title": sc.title,
            "passed": self.passed,
            "link": self.trace.link,
            "failures": [dataclasses.asdict(f) for f in self.failures],
            "calls": [c.to_json() for c in self.trace.calls],
            "events": self.trace.to_json(),
            "states": self.states,
            "skipped": self.skipped,
        }


def _deliver_text(deliver: Any) -> str:
    return deliver if isinstance(deliver, str) else repr(list(deliver) if
                                                       isinstance(deliver, tuple) else deliver)


def describe_step(step: Step) -> str:
    """A step written back as it appears in the file (``run client connect, ...``)."""
    if isinstance(step, CallStep):
        return f"call {step.endpoint} {step.op}"
    if isinstance(step, MoveStep):
        return f"move {step.direction}" + (f" {step.nbytes} bytes" if step.nbytes else "")
    if isinstance(step, LinkStep):
        return f"{step.action} {step.direction}"
    if isinstance(step, FaultStep):
        return step.fault.describe()
    if isinstance(step, HoldStep):
        return f"hold {step.direction} until {step.until.text()}"
    if isinstance(step, CheckStep):
        return f"check {step.endpoint}"
    if isinstance(step, JunkStep):
        return f"junk into the {step.endpoint}'s input ({len(step.data)} bytes)"
    if isinstance(step, ModeStep):
        parts = [f"{what} {' '.join(names)}" for what, names in (
            ("clear_modes", step.clear_modes), ("set_modes", step.set_modes),
            ("set_options", step.set_options)) if names]
        return f"{step.endpoint}: " + ", ".join(parts)
    return "run " + ", ".join(f"{e.endpoint} {e.op}" for e in step.entries)


def _check(
    failures: list[Failure], key: str, pattern: Pattern, outcomes: list[Outcome], step: int
) -> None:
    if not pattern.matches(outcomes):
        failures.append(Failure(key, pattern.text, summarize(outcomes), step))


def _make_pair(scenario: Scenario, record: bool, protocol: bool | None = None,
               shared: Callable[[Scenario], Mapping[str, Any]] | None = None) -> Pair:
    client, server = scenario.client, scenario.server
    contexts = None
    try:
        if shared is not None and not scenario.resume and not (
                record if protocol is None else protocol):
            contexts = dict(shared(scenario)) or None
        if scenario.resume:
            # Shared by the priming pair and the scenario's: hooks now, or never.
            contexts = {"client": build_context(client, trace_hooks=record),
                        "server": build_context(server, trace_hooks=record)}
            with Pair(client, server, contexts=contexts, record=False) as priming:
                first = priming.handshake()
                if first.terminal is None:
                    # TLS 1.3 tickets arrive after the handshake: one read takes them in.
                    priming.move("server>client")
                    priming.call("client", "read")
                    # Close both sides with SSL_shutdown: SSL_free of a connection that
                    # never sent close_notify removes its session from the cache and
                    # marks it not resumable (ssl_clear_bad_session), and the priming
                    # pair is freed before the scenario's handshake starts.
                    priming.call("client", "shutdown")
                    priming.call("server", "shutdown")
                if first.terminal is not None:
                    raise ScenarioError(
                        scenario.path, "client.resume",
                        f"the priming handshake ended in {first.terminal}: there is no "
                        f"session to resume (client {summarize(first.outcomes['client'])}; "
                        f"server {summarize(first.outcomes['server'])})")
                session = priming.client.session()
            client = dataclasses.replace(client, session=session)
        return Pair(
            client,
            server,
            deliver=scenario.deliver,
            turns=scenario.turns,
            max_calls=scenario.max_calls,
            record=record,
            protocol=protocol,
            contexts=contexts,
            link=scenario.link,
            socket_buffer=scenario.socket_buffer,
            bio_pair_size=scenario.bio_pair_size,
            send_cap=scenario.send_cap,
        )
    except ConfigError as exc:
        raise ScenarioError(scenario.path, exc.key, exc.message) from None
    except PeerError as exc:
        raise ScenarioError(scenario.path, "", f"external peer: {exc}") from None


def _missing_peer(scenario: Scenario) -> str | None:
    # Why an external TLS program or a library the scenario needs is not installed, with
    # the package.
    for cfg in (scenario.client, scenario.server):
        why = registry.missing(cfg.stack)
        if why is not None:
            return f"{cfg.role}.stack = {cfg.stack!r}: {why}"
        if cfg.stack in PEER_STACKS and not peer_available(cfg.stack, cfg.role):
            return (f"{cfg.role}.stack = {cfg.stack!r} needs {peer_program(cfg.stack, cfg.role)},"
                    f" which is not installed (Debian: apt-get install "
                    f"{'gnutls-bin' if 'gnutls' in cfg.stack else 'openssl'})")
        why = missing_library(cfg.stack)
        if why is not None:
            return f"{cfg.role}.stack = {cfg.stack!r}: {why}"
    return None


def run_scenario(
    scenario: Scenario,
    *,
    record: bool = True,
    judge: bool = True,
    faults: Sequence[Fault] = (),
    versions: Versions | None = None,
    require_peers: bool = False,
    schedule: Callable[[Pair], Schedule] | None = None,
    protocol: bool | None = None,
    contexts: Callable[[Scenario], Mapping[str, Any]] | None = None,
    summary: bool = True,
    fitted: bool = False,
) -> Verdict:
    """Run a scenario on the stack in use and judge it.

    Args:
        scenario: what to run, as loaded (its version tables are chosen here, once).
        record: keep move/link/fault events in the trace.
        judge: stop at the first failed expectation (False: run every step anyway, as
            sweeps do, whose faults make most expectations fail).
        faults: faults armed before the first step (what a sweep adds).
        versions: the stack's versions that ``requires`` and version tables are judged
            against (default: the running stack's,
            :func:`~biopair.endpoints.versions.stack_versions`).
        require_peers: True: an external TLS program or an in-process stack's library
            (libssl.so.3, libwolfssl, tlslite-ng) that is not installed is an error (as a
            ScenarioError), as where they are meant to be installed (CI); False: the
            scenario is skipped, naming the package.
        schedule: builds the pair's schedule from the new pair (an explorer's; default:
            the scenario's deliver and turns), which drives every run step.
        protocol: record the protocol (records, messages, states) too; default: ``record``.
        contexts: gives prepared pyOpenSSL Contexts by endpoint name for the fitted
            scenario (a search's :class:`~biopair.search.explore.ContextCache`); used only
            when the protocol is not recorded and the scenario does not resume a session.
        summary: False: skip what only a report reads (a search's many runs): the
            verdict's ``streams``, and each endpoint's ``states`` unless ``[result]``
            checks that endpoint.
        fitted: the scenario is already :func:`~biopair.scenario.resolve.for_stack`'s
            result for ``versions`` with its ``requires`` met (a search fits it once for
            its thousands of runs); it is run as it is.

    Returns:
        The :class:`Verdict` (``skipped`` set when ``requires`` is not met or a peer
        program is missing); its scenario is the one that ran, version tables chosen.

    Raises:
        ScenarioError: when a setting is impossible (OpenSSL refused it), or a version
            table has no branch for this stack.
    """
    failures: list[Failure] = []
    if not fitted:
        vs = stack_versions() if versions is None else versions
        unmet = unmet_requires(scenario, vs)
        if unmet is not None:
            return Verdict(scenario, failures, Trace(), skipped=unmet)
        scenario = for_stack(scenario, vs)
    missing = None if require_peers else _missing_peer(scenario)
    if missing:
        return Verdict(scenario, failures, Trace(), skipped=missing)
    if _names_sends(scenario):
        # A sends list is judged from the trace's records and messages: record them.
        record, protocol = True, True
    with _make_pair(scenario, record, protocol, contexts) as pair:
        if schedule is not None:
            pair.schedule = schedule(pair)
        for fault in faults:
            pair.fault(fault)
        for step in scenario.steps:
            pair.step = step.index
            if isinstance(step, CallStep) and pair.calls_made >= pair.max_calls:
                # A call step counts against the cap like a run's calls: at the cap the
                # scenario ends, as a run would end with LIMIT.
                failures.append(Failure(f"steps[{step.index + 1}].call",
                                        f"at most max_calls = {pair.max_calls:,} calls",
                                        f"LIMIT: {pair.calls_made:,} calls made before this "
                                        f"step", step.index))
                break
            try:
                _run_step(pair, step, failures)
            except PeerError as exc:
                raise ScenarioError(scenario.path, f"steps[{step.index + 1}]",
                                    f"external peer: {exc}") from None
            for event in pair.refused:
                failures.append(Failure(f"steps[{step.index + 1}]", "every armed fault applies",
                                        f"{event.kind} {event.direction}: {event.detail}",
                                        step.index))
            pair.refused.clear()
            if failures and judge:
                break
        pair.step = None
        # An external peer's state is not visible (state() is None): not checked.
        wanted = scenario.result
        states = {name: state for name, ep in pair.endpoints.items()
                  if (summary or wanted.both or wanted.per_endpoint.get(name))
                  and (state := ep.state()) is not None}
        if not failures:
            _check_result(scenario, states, len(pair.trace.calls), failures)
            transport_oracle(pair, failures, scenario.result.oracle)
            if scenario.result.keys_match is not None:
                _check_keys(pair, scenario.result.keys_match, failures)
        streams = {d: {"bytes": link.pulled, "records": len(link.sent.records)}
                   for d, link in pair.links.items()} if summary else {}
        return Verdict(scenario, failures, pair.trace, states, streams)


def _run_step(pair: Pair, step: Step, failures: list[Failure]) -> None:
    where = f"steps[{step.index + 1}]"
    first_event = len(pair.trace.events)
    if isinstance(step, CallStep):
        if step.until is not None:
            calls, outcomes = _call_until(pair, step)
        else:
            call = pair.call(step.endpoint, step.op, size=step.size, data=step.data,
                             buffer=step.buffer)
            calls, outcomes = [call], [call.outcome]
        if step.expect is not None:
            _check(failures, f"{where}.expect", _fitted(step.expect), outcomes, step.index)
        elif outcomes[-1].terminal:
            failures.append(Failure(f"{where}.until", f"an outcome matching {step.until.text}"
                                    if step.until is not None else "", summarize(outcomes),
                                    step.index))
        last = calls[-1]
        if step.expect_data is not None and last.data != step.expect_data:
            failures.append(Failure(f"{where}.data", show_data(step.expect_data),
                                    show_data(last.data), step.index))
        if step.sends is not None:
            _check_sends(pair, step.sends, step.endpoint, calls, first_event,
                         f"{where}.sends", step.index, failures)
    elif isinstance(step, MoveStep):
        pair.move(step.direction, step.nbytes)
    elif isinstance(step, LinkStep):
        getattr(pair, step.action)(step.direction)
    elif isinstance(step, FaultStep):
        try:
            pair.fault(step.fault)
        except FaultError as exc:
            failures.append(Failure(f"{where}.{step.fault.kind}", "the fault can be armed",
                                    str(exc), step.index))
    elif isinstance(step, HoldStep):
        pair.hold(step.direction, step.until)
    elif isinstance(step, CheckStep):
        state = pair.endpoints[step.endpoint].state() or {}
        for key, value in step.values.items():
            actual = state.get(key)
            if actual != value:
                failures.append(Failure(f"{where}.{key}", _show(value), _show(actual),
                                        step.index))
    elif isinstance(step, JunkStep):
        pair.junk(step.endpoint, step.data)
    elif isinstance(step, ModeStep):
        pair.change_modes(step.endpoint, step.set_modes, step.clear_modes, step.set_options)
    else:
        assert isinstance(step, RunStep)
        result = pair.run(step.entries, deliver=step.deliver, max_calls=step.max_calls)
        for entry in step.entries:
            outcomes = result.outcomes[entry.endpoint]
            pattern = step.expect.get(entry.endpoint)
            if pattern is not None:
                _check(failures, f"{where}.expect.{entry.endpoint}", _fitted(pattern),
                       outcomes, step.index)
            elif outcomes and outcomes[-1].terminal:
                failures.append(Failure(
                    f"{where}.expect.{entry.endpoint}",
                    "(no expectation: the run must not end in DEADLOCK or LIMIT)",
                    summarize(outcomes), step.index))
        for j, entry in enumerate(step.entries):
            sends = step.sends.get(entry.endpoint)
            if sends is not None:
                mine = [c for c in result.calls if c.endpoint == entry.endpoint]
                _check_sends(pair, sends, entry.endpoint, mine, first_event,
                             f"{where}.run[{j + 1}].sends", step.index, failures)


def _call_until(pair: Pair, step: CallStep) -> tuple[list[Call], list[Outcome]]:
    """Repeat a call step until an outcome matches ``until``: at most ``max_calls`` calls
    (then LIMIT), and DEADLOCK when a call moved no byte, returned no data and said what
    the one before it said (OpenSSL would only repeat itself)."""
    assert step.until is not None
    calls: list[Call] = []
    outcomes: list[Outcome] = []
    while True:
        if len(calls) >= step.max_calls or pair.calls_made >= pair.max_calls:
            outcomes.append(LIMIT)
            break
        before = pair.progress
        retry = bool(calls) and step.op in ("write", "write_early_data") and wants(
            calls[-1].error)
        # A write that said WANT_* is retried with its pending buffer (as in a run); any
        # other call repeats with the step's arguments.
        call = (pair.call(step.endpoint, step.op) if retry else
                pair.call(step.endpoint, step.op, size=step.size, data=step.data,
                          buffer=step.buffer))
        calls.append(call)
        outcomes.append(call.outcome)
        if step.until.matches([call.outcome]):
            break
        if (len(calls) > 1 and pair.progress == before and (call.ret is None or call.ret <= 0)
                and call.outcome == calls[-2].outcome):
            outcomes.append(DEADLOCK)
            break
    return calls, outcomes


def _names_sends(scenario: Scenario) -> bool:
    # Does any step assert names (not only a byte count) of what a call wrote?
    for step in scenario.steps:
        if isinstance(step, CallStep) and step.sends is not None and (
                step.sends.names or step.sends.absent):
            return True
        if isinstance(step, RunStep) and any(s.names or s.absent
                                             for s in step.sends.values()):
            return True
    return False


def written_names(events: Sequence[object], endpoint: str, seqs: set[int]) -> list[str]:
    """What the calls ``seqs`` of ``endpoint`` wrote, by name, from the trace's events:
    each record's content type (``application_data``, ``alert``, ``handshake``, ...),
    the plaintext handshake messages the one TLS parser found in them, the alerts
    (``alert:close_notify``), and the decrypted messages and alerts the endpoint's
    message callback reported sending (where its stack has one).

    Returns:
        The names in trace order (a name appears once per record or message).
    """
    out: list[str] = []
    prefix = f"{endpoint}>"
    for e in events:
        if isinstance(e, RecordEvent):
            if e.call not in seqs or not e.direction.startswith(prefix):
                continue
            out.append(e.content_type)
            for label in e.messages:
                if label.startswith("alert "):
                    out.append(f"alert:{label.rsplit(' ', 1)[-1]}")
                elif not label.startswith("("):
                    name = label.split(" (", 1)[0]
                    if name != e.content_type:
                        out.append(name)
        elif isinstance(e, MessageEvent):
            if e.sent and e.endpoint == endpoint and e.call in seqs:
                out.append(e.name)
        elif (isinstance(e, AlertEvent) and e.sent and e.endpoint == endpoint
              and e.call in seqs):
            out += ["alert", f"alert:{e.description}"]
    return out


def _check_sends(pair: Pair, sends: Sends, endpoint: str, calls: Sequence[Call],
                 first_event: int, key: str, step: int, failures: list[Failure]) -> None:
    nbytes = sum(c.sent for c in calls)
    if sends.nbytes is not None:
        if nbytes != sends.nbytes:
            failures.append(Failure(key, f"{sends.nbytes} bytes", f"{nbytes} bytes", step))
        return
    names = written_names(pair.trace.events[first_event:], endpoint, {c.seq for c in calls})
    missing = [n for n in sends.names if n not in names]
    forbidden = [n for n in sends.absent if n in names]
    if missing or forbidden:
        shown = ", ".join(dict.fromkeys(names)) or "nothing"
        note = ""
        if pair.endpoints[endpoint].stack != "pyopenssl":
            note = (f"; the {pair.endpoints[endpoint].stack} stack reports no decrypted "
                    f"messages, so encrypted records are named by content type only")
        failures.append(Failure(key, sends.text, f"{nbytes} bytes: {shown}{note}", step))


def _check_keys(pair: Pair, wanted: bool, failures: list[Failure]) -> None:
    # RFC 5705 keying material of both ends, compared here and never reported.
    ends = {name: ep.export_keys(EXPORTER_LABEL, EXPORTER_LENGTH)
            for name, ep in pair.endpoints.items()}
    absent = [name for name, keys in ends.items() if keys is None]
    if absent:
        actual = f"no keying material from the {' and '.join(absent)} (no finished handshake)"
        failures.append(Failure("result.keys_match", _show(wanted), actual))
        return
    same = ends["client"] == ends["server"]
    if same != wanted:
        failures.append(Failure("result.keys_match", _show(wanted),
                                "the same keying material" if same else
                                "different keying material"))


def transport_oracle(pair: Pair, failures: list[Failure],
                     expected: Mapping[str, str] | None = None) -> None:
    """The transport oracle, on for every direction with a wrapper endpoint at either
    end (docs/wrappers.md): what the receiving application got is exactly a prefix of
    what the sending application sent (no loss, duplication or reordering), and all of
    it once the receiver reported the connection closed.

    ``expected`` (``[result] oracle``) names, by direction (``client>server``), the
    finding the oracle must make instead (``duplicated``, ``lost``, ``corrupted``, or
    ``delivered``, the default): a named violation is then the expected result, and
    anything else (including a clean delivery) is a failure at ``result.oracle``."""
    wanted = expected or {}
    for sender, receiver in (("client", "server"), ("server", "client")):
        ends = (pair.endpoints[sender], pair.endpoints[receiver])
        if not any(is_wrapper(ep.stack) for ep in ends):
            continue
        sent = bytes(pair.sent[sender])
        got = bytes(getattr(ends[1], "received", b""))
        direction = f"{sender}>{receiver}"
        where = f"oracle.{sender}->{receiver}"
        found: Failure | None = None
        if not sent.startswith(got):
            at = next((i for i, (a, b) in enumerate(zip(sent, got, strict=False)) if a != b),
                      len(sent))
            found = Failure(where, f"the {receiver} receives what the {sender} sent",
                            f"{len(got):,} bytes received, {len(sent):,} sent, "
                            f"differing from byte {at:,}")
            finding = oracle_finding(sent, got)
        elif len(got) < len(sent) and getattr(ends[1], "lost", False):
            found = Failure(where, f"the {receiver} receives all the {sender} sent "
                                   f"before the connection closed",
                            f"{len(got):,} of {len(sent):,} bytes")
            finding = "lost"
        else:
            finding = "delivered"
        want = wanted.get(direction, "delivered")
        if want == "delivered":
            if found is not None:
                failures.append(found)
        elif finding != want:
            actual = finding if found is None else f"{finding}: {found.actual}"
            failures.append(Failure(f'result.oracle."{direction}"',
                                    f"the oracle finds {want}", actual))


#: At most this many spans when :func:`oracle_finding` takes the received bytes apart
#: (each costs one search of the sent bytes): more is ``corrupted``.
ORACLE_MAX_SPANS = 64
_PROBE = 64


def oracle_finding(sent: bytes, got: bytes) -> str:
    """What kind of violation ``got`` is of ``sent`` (``delivered`` for a prefix).

    ``got`` is taken apart into spans of ``sent``: the longest common run at the current
    position, then, where it stops, the first place in ``sent`` where the next
    :data:`_PROBE` received bytes occur (the first, the nearest ahead or the nearest
    behind, whichever the longest run follows).  Only going back (a span received again):
    ``duplicated``; only going forward (a span never received): ``lost``; bytes not in
    ``sent``, both, or more than :data:`ORACLE_MAX_SPANS` spans: ``corrupted``.  In a
    periodic payload (a ``size`` write's bytes repeat every 36) a jump is seen only
    modulo the period.

    Returns:
        ``delivered``, ``duplicated``, ``lost`` or ``corrupted``.
    """
    back = forward = False
    i = p = 0
    for _ in range(ORACLE_MAX_SPANS):
        i, p = _advance(sent, got, i, p)
        if i == len(got):
            if back != forward:
                return "duplicated" if back else "lost"
            return "corrupted" if back else "delivered"
        probe = got[i:i + _PROBE]
        found = {q for q in (sent.find(probe), sent.find(probe, p),
                             sent.rfind(probe, 0, p + len(probe) - 1)) if q >= 0}
        if not found:
            return "corrupted"
        # The candidate the longest run follows from; of equal runs, the nearest.
        q = max(found, key=lambda c: (_advance(sent, got, i, c)[0], -abs(c - p)))
        back, forward = back or q < p, forward or q > p
        p = q
    return "corrupted"


def _advance(sent: bytes, got: bytes, i: int, p: int) -> tuple[int, int]:
    # The longest run got[i:] and sent[p:] share, by halving: O(n log n) byte compares.
    lo, hi = 0, min(len(got) - i, len(sent) - p)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if got[i:i + mid] == sent[p:p + mid]:
            lo = mid
        else:
            hi = mid - 1
    return i + lo, p + lo


def _fitted(pattern: Pattern | Versioned[Pattern]) -> Pattern:
    # run_scenario ran for_stack() first, which replaces every table: one left is a bug.
    assert not isinstance(pattern, Versioned), "a version table was not resolved"
    return pattern


def _check_result(
    scenario: Scenario, states: dict[str, dict[str, Any]], ncalls: int,
    failures: list[Failure],
) -> None:
    spec = scenario.result
    for role, state in states.items():
        wanted = {**spec.both, **spec.per_endpoint.get(role, {})}
        for key, value in wanted.items():
            actual = state.get(key)
            path = f"result.{role}.{key}" if key in spec.per_endpoint.get(role, {}) else \
                f"result.{key} ({role})"
            if actual != value:
                failures.append(Failure(path, _show(value) + _when(spec, f"{role}.{key}", key),
                                        _show(actual)))
    if spec.calls is not None and ncalls != spec.calls:
        failures.append(Failure("result.calls", str(spec.calls) + _when(spec, "calls"),
                                str(ncalls)))


def _when(spec: ResultSpec, *names: str) -> str:
    # "  (when openssl >= 3.5)" for a value chosen from a table of version conditions.
    for name in names:
        if name in spec.when:
            return f"  (when {spec.when[name]})"
    return ""


#: Eight equal bytes (or characters) in a row: a run :func:`show_data` writes ``'a' * N``.
_RUN_BYTES = re.compile(rb"(.)\1{7}", re.DOTALL)
_RUN_TEXT = re.compile(r"(.)\1{7}", re.DOTALL)


#: How far a run is measured at a time (a memcmp against a block of the same byte).
_RUN_BLOCK = 1 << 16


@functools.lru_cache(maxsize=512)
def _run_parts(unit: Any) -> tuple[Any, re.Pattern[Any]]:
    # A block of ``unit``, and a pattern for the first byte (character) that is not it.
    other = (b"[^%s]" if isinstance(unit, bytes) else "[^%s]") % re.escape(unit)
    return unit * _RUN_BLOCK, re.compile(other)


def _run_end(data: Any, pos: int, unit: Any) -> int:
    # Where the run of ``unit`` that goes on at ``pos`` ends: whole blocks compared in C,
    # then the last part by a regular expression (no copy of the data).
    block, other = _run_parts(unit)
    while data.startswith(block, pos):
        pos += _RUN_BLOCK
    found = other.search(data, pos, pos + _RUN_BLOCK)
    return found.start() if found is not None else min(len(data), pos + _RUN_BLOCK)


def _latin1(data: bytes | str) -> str:
    return data if isinstance(data, str) else data.decode("latin-1")


def show_data(data: bytes | memoryview | str, limit: int = 80) -> str:
    """Bytes (or text) for a report: as a string literal, long runs written ``'a' * 16384``.

    Linear in time and memory however long the data: runs are found and measured with
    regular expressions (in C), only the first ``limit`` characters or so are ever
    rendered, and long irregular data is shown by its ends and its length.

    Returns:
        e.g. ``'hello'``, ``'a' * 16384 + 'bbbbb'`` or, for long irregular data, its
        first and last bytes and its length (``'abc...' ... '...xyz' (500 bytes)``).
    """
    if isinstance(data, memoryview):
        data = bytes(data)
    run: re.Pattern[Any] = _RUN_BYTES if isinstance(data, bytes) else _RUN_TEXT
    n = len(data)
    parts: list[str] = []
    shown = -3
    pos = 0
    while pos < n and shown <= limit:
        # A literal longer than the limit cannot be shown whole: look no further for the
        # next run than that.
        window = min(n, pos + limit + 8)
        found = run.search(data, pos, window)
        stop = found.start() if found is not None else window
        if stop > pos:
            parts.append(repr(_latin1(data[pos:stop])))
            shown += len(parts[-1]) + 3
        if found is None:
            pos = stop
            continue
        unit = data[stop:stop + 1]
        pos = _run_end(data, found.end(), unit)
        parts.append(f"{_latin1(unit)!r} * {pos - stop}")
        shown += len(parts[-1]) + 3
    if pos >= n and shown <= limit:
        return " + ".join(parts) if parts else "''"
    head = _latin1(data[:24])
    tail = _latin1(data[-24:])
    unit = "bytes" if isinstance(data, bytes) else "characters"
    return f"{head!r} ... {tail!r} ({n} {unit})"


def _show(value: Any) -> str:
    if isinstance(value, str | bytes) and len(value) > 80:
        return show_data(value)  # a long ``received``: its ends and length, in O(n)
    return "none" if value is None else repr(value)
