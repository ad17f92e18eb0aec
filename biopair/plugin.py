"""The pytest plugin: scenario files become test items, and a ``biopair_pair`` fixture.

Registered through the ``pytest11`` entry point, so any project that installs biopair
collects its scenario files: every ``*.toml`` below a directory named ``scenarios`` (the
ini option ``biopair_dirs`` changes the names).

Golden traces (:mod:`biopair.views.golden`) are opt-in per scenario: a scenario is compared with
its ``name.trace`` only when that file exists, so new scenarios without one still pass;
``--biopair-golden`` makes a missing golden a failure, ``--biopair-update`` writes them.

A ``.toml`` named explicitly on the command line (``pytest my-case.toml``) is collected
wherever it lies.

A file that cannot be run as written is a collection ERROR (the convention of pytest's
non-Python collection example) with one line per problem -- file, key, problem -- and no
traceback; it never stops the collection of the others.  An expectation that does not
hold is a failed test that lists every failed expectation.

Every pytest session of every project that has biopair installed loads this module, so it
imports nothing heavy at start-up: OpenSSL and cryptography (through the loader, the
engine and the golden traces) are imported only when a scenario file is collected (it is
loaded and validated then, so a bad one is a collection error), a scenario item runs or
the ``biopair_pair`` fixture is used.  A session that collects no scenario stays light.
Scaling out (``--biopair-explore``, ``--biopair-sweep``): a scenario file with an
``[explore]`` (or ``[sweep]``) section also yields ``--biopair-shards`` shard items, each a
contiguous slice of the search (:func:`biopair.search.explore.run_shard`; a slice of the
sweep's positions), so pytest-xdist spreads them over cores (``-n auto``) and hosts
(``--tx ssh=...``).  The number of items is fixed at collection (the file is only read as
TOML there); each item measures the space itself (one run as written, deterministic, so
every item agrees) and runs its slice.  A shard fails when a run in it refutes the
scenario (explore: shrunk, with the command that replays it) or the sweep finds a hang, a
harness exception or a forbidden class.  Each item's runs are in its report's
``user_properties`` (``biopair_explore``/``biopair_sweep``), so the controller sees them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from biopair.endpoints.config import EndpointConfig
    from biopair.engine.pair import Pair
    from biopair.scenario.runner import Verdict


def _bounded(name: str, lo: int, hi: int) -> Callable[[str], int]:
    # An option's integer type: out of range is pytest's one usage line, exit 4.
    import argparse

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer, not "
                                             f"{text[:40]!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{name} must be {lo} to {hi}, got {value}")
        return value

    return parse


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ini option naming scenario directories and the golden-trace flags."""
    parser.addini(
        "biopair_dirs",
        type="linelist",
        default=["scenarios"],
        help="names of directories whose *.toml files are biopair scenarios",
    )
    group = parser.getgroup("biopair")
    group.addoption(
        "--biopair-update", action="store_true", dest="biopair_update", default=False,
        help="write each passing scenario's golden trace (name.trace) after checking that "
             "two runs agree",
    )
    group.addoption(
        "--biopair-golden", action="store_true", dest="biopair_golden", default=False,
        help="fail scenarios without a golden trace (by default only existing name.trace "
             "files are compared)",
    )
    group.addoption(
        "--biopair-explore", action="store_true", dest="biopair_explore", default=False,
        help="also collect each scenario's [explore] space as shard items (see "
             "docs/explore.md)",
    )
    group.addoption(
        "--biopair-sweep", action="store_true", dest="biopair_sweep", default=False,
        help="also collect each scenario's [sweep] as shard items",
    )
    group.addoption(
        "--biopair-shards", type=_bounded("--biopair-shards", 1, 4096), default=4,
        dest="biopair_shards", metavar="N",
        help="shard items per explored or swept scenario (default 4)",
    )
    group.addoption(
        "--biopair-explore-seed", type=_bounded("--biopair-explore-seed", 0, 2**63),
        default=0, dest="biopair_explore_seed",
        metavar="N", help="the random search's seed (default 0)",
    )
    group.addoption(
        "--biopair-explore-budget", type=_bounded("--biopair-explore-budget", 1, 1_000_000),
        default=None, dest="biopair_explore_budget",
        metavar="N", help="schedules per scenario, over all its shards (default 1000; "
                          "exhaustive: the whole space)",
    )
    group.addoption(
        "--biopair-explore-exhaustive", action="store_true", default=False,
        dest="biopair_explore_exhaustive", help="shard the exhaustive order instead")
    group.addoption(
        "--biopair-no-golden", action="store_true", dest="biopair_no_golden", default=False,
        help="do not compare golden traces (they record one environment: the OpenSSL "
             "version matrix runs the scenarios' own expectations only)",
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Collect ``*.toml`` files below a scenario directory or named on the command line."""
    if file_path.suffix != ".toml":
        return None
    dirs = set(parent.config.getini("biopair_dirs"))
    if not dirs.intersection(file_path.parent.parts) and not _named(file_path, parent.config):
        return None
    return ScenarioFile.from_parent(parent, path=file_path)


def _named(file_path: Path, config: pytest.Config) -> bool:
    # Is the file one of the command line's arguments (``pytest case.toml::case`` too)?
    base = config.invocation_params.dir
    for arg in config.args:
        named = Path(str(arg).split("::", 1)[0])
        if not named.is_absolute():
            named = base / named
        if named.resolve() == file_path.resolve():
            return True
    return False


def _peers_required() -> bool:
    # What the environment means is the front end's decision, not the runner's: CI
    # (CI=true) installs the external TLS programs, so there a missing one must surface
    # as the peer's own error; elsewhere the scenario is skipped, naming the package.
    return os.environ.get("CI") == "true"


class ScenarioFailed(Exception):
    """A scenario's expectations did not hold; carries the verdict."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.report())
        self.verdict = verdict


class GoldenFailed(Exception):
    """The run's trace differs from the golden trace, or the golden trace is missing."""


class ScenarioFile(pytest.File):
    """One scenario file: one item, named for the file (and shard items, when asked)."""

    def collect(self) -> Iterator[pytest.Item]:
        """Load and validate the file, then yield its item.  With
        ``--biopair-explore``/``--biopair-sweep``, a file whose TOML has that section
        also yields its shard items.

        Raises:
            ScenarioError: the file cannot be run as written (a collection error).
        """
        from biopair.scenario.loader import load_scenario

        load_scenario(self.path)
        yield ScenarioItem.from_parent(self, name=self.path.stem)
        config = self.config
        wanted = [kind for kind, option in (("explore", "biopair_explore"),
                                            ("sweep", "biopair_sweep"))
                  if config.getoption(option)]
        if not wanted:
            return
        sections = _sections(self.path)
        shards = config.getoption("biopair_shards")
        for kind in wanted:
            if kind in sections:
                for i in range(shards):
                    yield ShardItem.from_parent(self, name=f"{self.path.stem}[{kind} "
                                                f"{i + 1}/{shards}]", kind=kind, shard=i,
                                                shards=shards)

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str | Any:
        """A bad scenario as its lines (file, key, problem); anything else as pytest would."""
        from biopair.scenario.loader import ScenarioError

        if isinstance(excinfo.value, ScenarioError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


def _sections(path: Path) -> set[str]:
    # The top-level tables of a scenario file (a file that is not TOML has none: its
    # scenario item reports why).
    import tomllib

    try:
        with open(path, "rb") as fh:
            return set(tomllib.load(fh))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return set()


class ShardFailed(Exception):
    """A shard found a refutation (explore) or a failing run (sweep)."""


def _slice(total: int, shard: int, shards: int) -> tuple[int, int]:
    return total * shard // shards, total * (shard + 1) // shards


class ShardItem(pytest.Item):
    """One contiguous slice of a scenario's exploration or sweep."""

    def __init__(self, *, kind: str, shard: int, shards: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kind = kind
        self.shard = shard
        self.shards = shards

    def runtest(self) -> None:
        """Measure the space, run this item's slice, fail on a refutation."""
        __tracebackhide__ = True
        from biopair.scenario.loader import load_scenario

        scenario = load_scenario(self.path)
        if self.kind == "explore":
            self._explore(scenario)
        else:
            self._sweep(scenario)

    def _explore(self, scenario: Any) -> None:
        __tracebackhide__ = True
        from biopair.scenario.model import ExploreSpec
        from biopair.search import explore as ex

        config = self.config
        spec = scenario.explore or ExploreSpec()
        ex.check_explorable(scenario)
        try:
            frame, _ = ex.frame_of(scenario, spec)
        except ex.Skipped as exc:
            pytest.skip(f"{self.path.name}: {exc}")
        space = ex.Space(spec, frame)
        exhaustive = config.getoption("biopair_explore_exhaustive")
        budget = config.getoption("biopair_explore_budget")  # 1..MAX_BUDGET (parsed)
        total = (min(budget or ex.MAX_BUDGET, space.size) if exhaustive
                 else budget or 1000)
        lo, hi = _slice(total, self.shard, self.shards)
        mode = "exhaustive" if exhaustive else "random"
        seed = config.getoption("biopair_explore_seed")
        shard = (ex.Shard(mode, lo, hi, frame, index_base=lo) if exhaustive
                 else ex.random_slice(space, seed, lo, hi))
        runs = ex.run_shard(scenario, spec, shard)
        self.user_properties.append(("biopair_explore", [
            [r.index, r.schedule, r.klass, r.kind] for r in runs]))
        first = next((r for r in runs if r.failure is not None), None)
        if first is not None:
            point, _ = ex.shrink(scenario, spec, first)
            text = ex.format_schedule(point)
            raise ShardFailed(
                f"{self.path}: schedule {first.schedule} (#{first.index}, {mode} "
                f"{lo}-{hi - 1}{f' seed {seed}' if mode == 'random' else ''}) refutes "
                f"the scenario: {first.failure}\n  shrunk: {text}\n  replay: biopair "
                f"explore {self.path} --replay '{text}'")

    def _sweep(self, scenario: Any) -> None:
        __tracebackhide__ = True
        from biopair.search import sweep as sw

        if scenario.sweep is None:  # pragma: no cover - collected only with [sweep]
            return
        from biopair.scenario.runner import run_scenario

        skipped = run_scenario(scenario, record=False, judge=False).skipped
        if skipped is not None:
            pytest.skip(f"{self.path.name}: {skipped}")
        every = sw.positions(scenario, scenario.sweep)
        lo, hi = _slice(len(every), self.shard, self.shards)
        results = [sw.run_point(str(self.path), scenario.sweep, p) for p in every[lo:hi]]
        self.user_properties.append(("biopair_sweep", [
            [r.position, r.klass, r.hang, r.error is not None] for r in results]))
        report = sw.SweepReport(str(self.path), scenario.sweep, every[lo:hi], results, 0.0, 1)
        if not report.passed:
            raise ShardFailed(report.summary())

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str | Any:
        """A refutation or a bad scenario as plain text; a harness bug as a traceback."""
        from biopair.scenario.loader import ScenarioError

        if isinstance(excinfo.value, (ShardFailed, ScenarioError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """Name the file and the shard."""
        return self.path, None, f"{self.kind} shard {self.shard + 1}/{self.shards}: " \
                                f"{self.path.name}"


class ScenarioItem(pytest.Item):
    """Runs one scenario file."""

    def runtest(self) -> None:
        """Load, run and judge the scenario."""
        __tracebackhide__ = True
        from biopair.scenario.loader import load_scenario
        from biopair.scenario.runner import run_scenario

        if not self.config.getoption("biopair_no_golden"):
            from biopair.views import golden

            # A golden file that is a link, a directory or a FIFO fails the item in one
            # line before the scenario runs: it is never followed, shown or opened.
            refused = golden.refusal(self.path)
            if refused is not None:
                raise GoldenFailed(refused)
        verdict = run_scenario(load_scenario(self.path), require_peers=_peers_required(),
                               every=True)
        if verdict.skipped is not None:
            pytest.skip(f"{self.path.name}: {verdict.skipped}")
        if not verdict.passed:
            raise ScenarioFailed(verdict)
        self._golden(verdict)

    def _golden(self, verdict: Verdict) -> None:
        __tracebackhide__ = True
        config = self.config
        if config.getoption("biopair_no_golden"):
            return
        from biopair.scenario.loader import load_scenario
        from biopair.scenario.runner import run_scenario
        from biopair.views import files, golden

        try:
            result = golden.check_run(
                verdict, update=config.getoption("biopair_update"),
                require=config.getoption("biopair_golden"),
                rerun=lambda: run_scenario(load_scenario(self.path),
                                           require_peers=_peers_required()))
        except files.FileRefused as exc:  # a golden file changed while the scenario ran
            raise GoldenFailed(str(exc)) from None
        if result.unstable is not None:
            pytest.skip(f"no golden trace: {result.unstable}")
        if result.failed:
            raise GoldenFailed(result.message)

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str | Any:
        """Our failures as plain text; anything else (a harness bug) as a traceback."""
        from biopair.scenario.loader import ScenarioError  # loaded by runtest already

        if isinstance(excinfo.value, ScenarioError):
            return str(excinfo.value)
        if isinstance(excinfo.value, ScenarioFailed):
            return excinfo.value.verdict.report()
        if isinstance(excinfo.value, GoldenFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """Name the file and its scenario."""
        return self.path, None, f"scenario: {self.path.name}"


@pytest.fixture
def biopair_pair() -> Iterator[Callable[..., Pair]]:
    """A factory for :class:`~biopair.Pair` objects, closed after the test.

    Example::

        def test_bytewise(biopair_pair):
            pair = biopair_pair(deliver="bytewise")
            assert pair.handshake().terminal is None
    """
    from biopair.endpoints.config import EndpointConfig
    from biopair.engine.pair import Pair

    made: list[Pair] = []

    def make(
        client: EndpointConfig | dict[str, Any] | None = None,
        server: EndpointConfig | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Pair:
        if isinstance(client, dict):
            client = EndpointConfig(role="client", **client)
        if isinstance(server, dict):
            server = EndpointConfig(role="server", **server)
        pair = Pair(client, server, **kwargs)
        made.append(pair)
        return pair

    yield make
    for pair in made:
        pair.close()
