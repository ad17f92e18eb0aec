"""Rules that judge read values together: settings that contradict each other, and what
each TLS stack can do.

The loader reads each key with a typed reader and builds the model; these rules then
refuse combinations that no single key shows to be wrong -- ``version`` with
``min_version``, a socket size on a memory link, an op the stdlib ``ssl`` module cannot
make, a ``[result]`` check of an external program.  What a stack supports is its own
declaration (:func:`biopair.endpoints.registry.capabilities`), never a list kept here.
Each rule raises a :class:`~biopair.scenario.model.ScenarioError` naming the key to
change.  Rules that decide how one step table is read (``offset`` or ``record``; ``data``
or ``size``) stay with that step's reader in the loader.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping

from biopair.endpoints.config import VERSIONS, EndpointConfig
from biopair.endpoints.registry import STACKS, capabilities
from biopair.endpoints.wrappers.stacks import is_wrapper
from biopair.scenario.model import (
    CallStep,
    CheckStep,
    JunkStep,
    ModeStep,
    ResultSpec,
    RunStep,
    Step,
)
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
    # A stack honours the keys its capabilities declare: name the first it cannot take.
    caps = capabilities(cfg.stack)
    for key in given:
        if key not in caps.settings:
            raise reader.fail(f"{role}.{key}", f"not available with stack = {cfg.stack!r} "
                                               f"(it takes {', '.join(sorted(caps.settings))})")
    if cfg.version is not None and cfg.version not in caps.versions:
        raise reader.fail(f"{role}.version", f"stack = {cfg.stack!r} takes version "
                                             f"{' or '.join(sorted(caps.versions))}")


def check_schedule(reader: Reader, link: str, socket_buffer: int | None) -> None:
    """Refuse a socket size on a link that is not a socket.

    Raises:
        ScenarioError: at ``schedule.socket_buffer``.
    """
    if socket_buffer is not None and link != "socket":
        raise reader.fail("schedule.socket_buffer", 'sizes a socket: it needs link = '
                                                    '"socket" (memory BIOs have no size)')


def check_send_cap(reader: Reader, endpoints: Mapping[str, EndpointConfig], link: str,
                   send_cap: int | None) -> None:
    """Refuse a ``send_cap`` that would cap nothing: off a memory link, or with no
    endpoint whose stack declares ``capped_sends``.

    Raises:
        ScenarioError: at ``schedule.send_cap``.
    """
    if send_cap is None:
        return
    if link != "memory":
        raise reader.fail("schedule.send_cap", f"caps in-memory sends: it needs link = "
                                               f'"memory", not {link!r}')
    if not any(capabilities(cfg.stack).capped_sends for cfg in endpoints.values()):
        takers = [caps for caps in map(capabilities, STACKS) if caps.capped_sends]
        names = " or ".join(f"{c.stack!r}" for c in takers)
        stacks = " and ".join(f"{name}.stack = {cfg.stack!r}"
                              for name, cfg in endpoints.items())
        raise reader.fail("schedule.send_cap", f"caps the sends of a callback-I/O stack "
                                               f"(stack = {names}); {stacks} cannot")


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
    caps = {name: capabilities(cfg.stack) for name, cfg in endpoints.items()}
    peers = [name for name in endpoints if caps[name].external]
    if len(peers) == 2:
        raise reader.fail("server.stack", "both endpoints are external programs; one side "
                                          "must be in-process")
    for name, cfg in endpoints.items():
        if link == "bio-pair":
            # Only libssl endpoints sit on a BIO pair; the other side keeps its own BIOs.
            if not any(link in c.links for c in caps.values()):
                raise reader.fail("schedule.link", f"link = {link!r} needs an endpoint "
                                                   f"that can sit on one (stack = "
                                                   f'"libssl"); {name}.stack = '
                                                   f"{cfg.stack!r} cannot")
            if caps[name].external:
                raise reader.fail("schedule.link", f"link = {link!r} is not available "
                                                   f"with {name}.stack = {cfg.stack!r}")
        elif link not in caps[name].links:
            raise reader.fail("schedule.link", f"link = {link!r} is not available with "
                                               f"{name}.stack = {cfg.stack!r}")
    for name in peers:
        if name in result.per_endpoint:
            raise reader.fail(f"result.{name}", f"the {name} is an external program "
                                                f"({endpoints[name].stack}); its state is "
                                                f"not visible")
    in_process = [name for name in endpoints if name not in peers]
    for key in result.both:
        # [result] checks of both endpoints skip a peer: its state is not visible.
        cannot = [f"{name}.stack = {endpoints[name].stack!r}" for name in in_process
                  if key not in caps[name].results]
        if cannot:
            raise reader.fail(f"result.{key}", f"{' and '.join(cannot)} cannot report {key}")
    for name in in_process:
        for key in result.per_endpoint.get(name, {}):
            if key not in caps[name].results:
                raise reader.fail(f"result.{name}.{key}",
                                  f"{name}.stack = {endpoints[name].stack!r} cannot report {key}")
    for endpoint, op, key in _calls(steps):
        stack = endpoints[endpoint].stack
        if caps[endpoint].external:
            raise reader.fail(key, f"the {endpoint} is an external program ({stack}); "
                                   f"only the in-process side can be called")
        if op not in caps[endpoint].ops:
            raise reader.fail(key, f"{endpoint}.stack = {stack!r} cannot {op} (it can: "
                                   f"{', '.join(sorted(caps[endpoint].ops))})")
    if result.oracle and not any(is_wrapper(cfg.stack) for cfg in endpoints.values()):
        raise reader.fail("result.oracle", "the transport oracle runs only with a wrapper "
                                           "endpoint at either end (docs/wrappers.md)")
    if result.keys_match is not None:
        cannot = [f"{name}.stack = {endpoints[name].stack!r}" for name in endpoints
                  if "keys_match" not in caps[name].results]
        if cannot:
            raise reader.fail("result.keys_match", f"{' and '.join(cannot)} cannot export "
                                                   f"keying material (RFC 5705)")
    for step in steps:
        where = f"steps[{step.index + 1}]"
        if isinstance(step, CheckStep):
            name = step.endpoint
            if caps[name].external:
                raise reader.fail(f"{where}.check", f"the {name} is an external program "
                                                    f"({endpoints[name].stack}); its state "
                                                    f"is not visible")
            for key in step.values:
                if key not in caps[name].results:
                    raise reader.fail(f"{where}.{key}", f"{name}.stack = "
                                                        f"{endpoints[name].stack!r} cannot "
                                                        f"report {key}")
        elif isinstance(step, ModeStep):
            name = step.endpoint
            if "modes" not in caps[name].settings or caps[name].external:
                action = ("clear_modes" if step.clear_modes else
                          "set_modes" if step.set_modes else "set_options")
                raise reader.fail(f"{where}.{action}", f"{name}.stack = "
                                                       f"{endpoints[name].stack!r} cannot "
                                                       f"change modes or options of a live "
                                                       f"connection")
        elif isinstance(step, JunkStep) and caps[step.endpoint].external:
            raise reader.fail(f"{where}.junk", f"the {step.endpoint} is an external "
                                               f"program; junk goes into an in-process "
                                               f"endpoint's input")
    # The client's resume key is judged with its settings; the priming handshake shares
    # the server's context too, so the server's stack must declare resume as well.
    server = endpoints["server"]
    if resume and "resume" not in caps["server"].settings:
        raise reader.fail("client.resume", f"resumption needs a server that can resume "
                                           f"(server.stack = {server.stack!r} cannot)")


def _calls(steps: tuple[Step, ...]) -> Iterator[tuple[str, str, str]]:
    # Every (endpoint, op, key path) the steps call, in file order.
    for step in steps:
        where = f"steps[{step.index + 1}]"
        if isinstance(step, CallStep):
            yield step.endpoint, step.op, f"{where}.call"
        elif isinstance(step, RunStep):
            for j, entry in enumerate(step.entries):
                yield entry.endpoint, entry.op, f"{where}.run[{j + 1}]"
