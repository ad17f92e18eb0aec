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
    """One scenario file: one item, named for the file."""

    def collect(self) -> Iterator[ScenarioItem]:
        """Load and validate the file, then yield its single item.

        Raises:
            ScenarioError: the file cannot be run as written (a collection error).
        """
        from biopair.scenario.loader import load_scenario

        load_scenario(self.path)
        yield ScenarioItem.from_parent(self, name=self.path.stem)

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
