"""Rules that judge read values together: settings that contradict each other, and what
each TLS stack can do.

The loader reads each key with a typed reader and builds the model; these rules then
refuse combinations that no single key shows to be wrong -- ``version`` with
``min_version``, a socket size on a memory link, an op the stdlib ``ssl`` module cannot
make, a ``[result]`` check of an external program.  Each raises a
:class:`~biopair.scenario.model.ScenarioError` naming the key to change.  Rules that
decide how one step table is read (``offset`` or ``record``; ``data`` or ``size``) stay
with that step's reader in the loader.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping

from biopair.endpoints.config import VERSIONS, EndpointConfig
from biopair.endpoints.peers import PEER_KEYS, PEER_STACKS
from biopair.endpoints.stdlib import STDLIB_KEYS, STDLIB_OPS
from biopair.scenario.model import CallStep, ResultSpec, RunStep, Step
from biopair.scenario.readers import Reader


def check_endpoint(reader: Reader, role: str, given: Collection[str],
                   cfg: EndpointConfig) -> None:
    """Refuse contradicting settings in one endpoint table, and keys its stack ignores.

    Args:
        reader: the file's reader (errors name its file).
        role: ``client`` or ``server``.
        given: the keys the table wrote (a stack is judged on what the file says, not on
            defaults).
        cfg: the settings read from it.

    Raises:
        ScenarioError: naming the first key to change.
    """
    if "version" in given and ("min_version" in given or "max_version" in given):
        raise reader.fail(f"{role}.version", "pins min and max: do not combine it with "
                                             "min_version/max_version")
    lo, hi = cfg.min_version, cfg.max_version
    if lo and hi and VERSIONS[lo] > VERSIONS[hi]:
        raise reader.fail(f"{role}.min_version", f"{lo} is above max_version {hi}")
    both = set(cfg.modes) & set(cfg.clear_modes)
    if both:
        raise reader.fail(f"{role}.clear_modes", f"{sorted(both)} also in modes")
    if cfg.stack == "pyopenssl":
        return
    # Other stacks honour fewer keys: name the first one they cannot take.
    allowed = STDLIB_KEYS if cfg.stack == "stdlib" else PEER_KEYS
    for key in given:
        if key not in allowed:
            raise reader.fail(f"{role}.{key}", f"not available with stack = {cfg.stack!r} "
                                               f"(it takes {', '.join(allowed)})")
    if cfg.stack in PEER_STACKS and cfg.version not in (None, "1.2", "1.3"):
        raise reader.fail(f"{role}.version", "an external peer takes version 1.2 or 1.3")


def check_schedule(reader: Reader, link: str, socket_buffer: int | None) -> None:
    """Refuse a socket size on a link that is not a socket.

    Raises:
        ScenarioError: at ``schedule.socket_buffer``.
    """
    if socket_buffer is not None and link != "socket":
        raise reader.fail("schedule.socket_buffer", 'sizes a socket: it needs link = '
                                                    '"socket" (memory BIOs have no size)')


def check_stacks(reader: Reader, endpoints: Mapping[str, EndpointConfig], link: str,
                 steps: tuple[Step, ...], result: ResultSpec, resume: bool) -> None:
    """Refuse what the endpoints' stacks cannot do together: the link, the ops the steps
    call, the ``[result]`` checks and resumption.

    Args:
        reader: the file's reader.
        endpoints: ``{"client": cfg, "server": cfg}``.
        link: the schedule's link kind.
        steps: the scenario's steps.
        result: its ``[result]`` checks.
        resume: whether the client resumes a session.

    Raises:
        ScenarioError: naming the key to change.
    """
    peers = [name for name, cfg in endpoints.items() if cfg.stack in PEER_STACKS]
    if len(peers) == 2:
        raise reader.fail("server.stack", "both endpoints are external programs; one side "
                                          "must be in-process")
    if link != "memory" and any(c.stack != "pyopenssl" for c in endpoints.values()):
        raise reader.fail("schedule.link", f"link = {link!r} needs two pyOpenSSL endpoints")
    for name in peers:
        if name in result.per_endpoint:
            raise reader.fail(f"result.{name}", f"the {name} is an external program "
                                                f"({endpoints[name].stack}); its state is "
                                                f"not visible")
    for endpoint, op, key in _calls(steps):
        stack = endpoints[endpoint].stack
        if stack in PEER_STACKS:
            raise reader.fail(key, f"the {endpoint} is an external program ({stack}); "
                                   f"only the in-process side can be called")
        if stack == "stdlib" and op not in STDLIB_OPS:
            raise reader.fail(key, f"the stdlib ssl module cannot {op} (it can: "
                                   f"{', '.join(STDLIB_OPS)})")
    if resume and any(c.stack != "pyopenssl" for c in endpoints.values()):
        raise reader.fail("client.resume", "resumption needs two pyOpenSSL endpoints")


def _calls(steps: tuple[Step, ...]) -> Iterator[tuple[str, str, str]]:
    # Every (endpoint, op, key path) the steps call, in file order.
    for step in steps:
        where = f"steps[{step.index + 1}]"
        if isinstance(step, CallStep):
            yield step.endpoint, step.op, f"{where}.call"
        elif isinstance(step, RunStep):
            for j, entry in enumerate(step.entries):
                yield entry.endpoint, entry.op, f"{where}.run[{j + 1}]"
