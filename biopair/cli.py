"""The ``biopair`` command line.

Exit codes: 0 every scenario passed; 1 some expectation failed; 2 bad input (a scenario
that cannot be run as written, a bad option).  A bad scenario is one line on stderr naming
the file, the key path and the problem; the other scenarios still run.

Each command imports what it needs when it runs: ``biopair --help`` and ``biopair diff``
never load OpenSSL or cryptography.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from biopair.scenario.runner import Verdict
    from biopair.views import golden


class _Choices:
    """An option's choices, read from the module that defines them when first asked for.

    argparse tests choices when that subcommand's arguments are parsed and lists them when
    its help is shown, so building the parser for ``biopair diff`` or ``biopair --help``
    imports nothing heavy (the scenario loader brings in OpenSSL).  The option needs a
    ``metavar``: without one, ``add_argument`` iterates the choices to draw the usage.
    """

    def __init__(self, load: Callable[[], Sequence[str]]) -> None:
        self._load = load

    @functools.cached_property
    def _values(self) -> tuple[str, ...]:
        return tuple(self._load())

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __contains__(self, value: object) -> bool:
        return value in self._values


def _sweep_faults() -> Sequence[str]:
    from biopair.scenario.loader import SWEEP_FAULTS

    return SWEEP_FAULTS


def _directions() -> Sequence[str]:
    from biopair.transport.link import DIRECTIONS

    return DIRECTIONS


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"biopair: {message}\n")


#: The longest --timeout (a day): threading refuses waits much longer than this.
_MAX_TIMEOUT = 86400.0
#: The most worker processes a sweep starts.
_MAX_JOBS = 256


def _timeout(text: str) -> float:
    # argparse turns this ValueError into one line and exit 2.
    value = float(text)
    if not (math.isfinite(value) and 0 < value <= _MAX_TIMEOUT):
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds above 0 and "
                                         f"at most {_MAX_TIMEOUT:g}, got {text!r}")
    return value


def _jobs(text: str) -> int:
    value = int(text)
    if not 0 <= value <= _MAX_JOBS:
        raise argparse.ArgumentTypeError(f"must be from 0 (one per CPU) to {_MAX_JOBS}, "
                                         f"got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="biopair", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="store_true", help="print versions and exit")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run scenario files or directories")
    run.add_argument("paths", nargs="*", default=["scenarios"],
                     help="scenario files or directories (default: scenarios)")
    run.add_argument("--json", action="store_true",
                     help="print one JSON document: per scenario its file, title, passed, "
                          "calls and every trace event (docs/json-schema.md)")
    run.add_argument("-q", "--quiet", action="store_true", help="print failures and the "
                                                                "summary only")
    run.add_argument("--trace", action="store_true",
                     help="draw each scenario's run as a ladder (client, wire, server)")
    run.add_argument("--full", action="store_true",
                     help="with --trace: draw every turn, do not collapse repeated ones")
    run.add_argument("--pcap", metavar="FILE",
                     help="write the bytes that crossed each link as pcapng, with the TLS "
                          "secrets embedded (tshark/Wireshark decrypt it without options)")
    run.add_argument("--keylog", metavar="FILE",
                     help="write the TLS secrets as an NSS key log (SSLKEYLOGFILE format)")
    run.add_argument("--update", action="store_true",
                     help="write each scenario's golden trace (name.trace) after checking "
                          "that two runs agree")
    run.add_argument("--golden", action="store_true",
                     help="fail scenarios that have no golden trace (by default only "
                          "existing name.trace files are compared)")
    run.add_argument("--no-golden", action="store_true",
                     help="do not compare golden traces (they record one environment; "
                          "under another, read `biopair diff` instead)")
    explain = sub.add_parser("explain", help="tell what happened in each call, and why")
    explain.add_argument("paths", nargs="+", help="scenario files or directories")
    sub.add_parser("version", help="print biopair, pyOpenSSL, cryptography, OpenSSL versions")
    idx = sub.add_parser("index", help="write the scenario index (scenarios/README.md)")
    idx.add_argument("root", nargs="?", default="scenarios", help="scenario directory")
    idx.add_argument("--check", action="store_true", help="exit 1 if the index is stale")
    sw = sub.add_parser("sweep", help="run a scenario once per byte/record of a link with a "
                                      "fault there (see docs/faults.md)")
    sw.add_argument("file", help="the scenario file")
    sw.add_argument("--fault", choices=_Choices(_sweep_faults), metavar="KIND",
                    help="fault kind: %(choices)s (default: the file's [sweep] fault, else "
                         "corrupt)")
    sw.add_argument("--link", choices=_Choices(_directions), metavar="DIRECTION",
                    help="the swept direction: %(choices)s")
    sw.add_argument("--records", action="store_true", help="one run per record, not per byte")
    sw.add_argument("--start", type=int, help="first offset/record")
    sw.add_argument("--stop", type=int, help="end offset/record (exclusive)")
    sw.add_argument("--stride", type=int, help="step between positions")
    sw.add_argument("--xor", help="hex bytes a corrupt fault XORs in (default ff)")
    sw.add_argument("--jobs", type=_jobs, default=0,
                    help="worker processes (default: one per CPU; 1 runs in-process)")
    sw.add_argument("--timeout", type=_timeout, default=60.0,
                    help="seconds a single run may take before it counts as a hang "
                         f"(finite, above 0, at most {_MAX_TIMEOUT:g})")
    sw.add_argument("--json", action="store_true", help="print the report as JSON")
    diff = sub.add_parser("diff", help="compare two `biopair run --json` outputs: where do "
                                       "the call sequences diverge? (exit 0 same, 1 "
                                       "different, 2 bad input)")
    diff.add_argument("a", help="JSON from `biopair run --json` (e.g. under OpenSSL 3.1)")
    diff.add_argument("b", help="JSON from `biopair run --json` (e.g. under OpenSSL 4.0)")
    diff.add_argument("--context", type=int, default=3, help="calls shown before the first "
                                                             "divergence (default 3)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``biopair`` command; returns the exit code."""
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (``biopair explain ... | head``): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.version or args.command == "version":
        from biopair.endpoints import versions

        for name, value in versions.versions().items():
            print(f"{name} {value}")
        return 0
    if args.command == "diff":
        from biopair.views import diff as _diff

        try:
            code, report = _diff.main(args.a, args.b, max(0, args.context))
        except _diff.DiffInputError as exc:
            print(f"biopair diff: {exc}", file=sys.stderr)
            return 2
        print(report)
        return code
    if args.command == "run":
        return _run(args.paths, as_json=args.json, quiet=args.quiet,
                    options=_RunOptions(ladder=args.trace, full=args.full, pcap=args.pcap,
                                        keylog=args.keylog, update=args.update,
                                        golden=args.golden, no_golden=args.no_golden,
                                        require_peers=_peers_required()))
    if args.command == "explain":
        return _explain(args.paths)
    if args.command == "index":
        from biopair.views import index

        return index.main([args.root, *(["--check"] if args.check else [])])
    if args.command == "sweep":
        return _sweep(args)
    _parser().print_help()
    return 2


@dataclass(frozen=True)
class _RunOptions:
    ladder: bool = False
    full: bool = False
    pcap: str | None = None
    keylog: str | None = None
    update: bool = False
    golden: bool = False
    no_golden: bool = False
    #: a missing external TLS program is an error, not a skip (see _peers_required).
    require_peers: bool = False


def _files(paths: list[str]) -> tuple[list[Path], int]:
    from biopair.scenario.loader import find_scenarios

    files: list[Path] = []
    errors = 0
    for path in paths:
        if not Path(path).exists():
            print(f"{_escaped(path)}: no such file or directory", file=sys.stderr)
            errors += 1
            continue
        files.extend(find_scenarios([path]))
    return files, errors


def _golden(verdict: Verdict, options: _RunOptions) -> golden.GoldenResult:
    from biopair.scenario.loader import load_scenario
    from biopair.scenario.runner import run_scenario
    from biopair.views import golden

    if options.no_golden and not options.update:
        return golden.GoldenResult("skipped", "")
    path = verdict.scenario.path
    return golden.check_run(verdict, update=options.update, require=options.golden,
                            rerun=lambda: run_scenario(load_scenario(path),
                                                       require_peers=options.require_peers))


def _run(paths: list[str], *, as_json: bool, quiet: bool,
         options: _RunOptions | None = None) -> int:
    from biopair.endpoints import versions
    from biopair.views import golden, pcap
    from biopair.views import ladder as render

    options = options or _RunOptions()
    files, errors = _files(paths)
    verdicts: list[Verdict] = []
    failed = 0
    colour = render.use_colour(sys.stdout.isatty(), os.environ)
    for file in files:
        verdict = _load_and_run(file, options.require_peers)
        if verdict is None:
            errors += 1
            continue
        verdicts.append(verdict)
        gold = (_golden(verdict, options) if verdict.skipped is None
                else golden.GoldenResult("skipped", ""))
        if gold.message and (gold.failed or not as_json):
            print(gold.message, file=sys.stderr if as_json else sys.stdout)
        ok = verdict.passed and not gold.failed
        failed += not ok
        if as_json:
            continue
        if options.ladder and verdict.skipped is None:
            print(render.render_ladder(verdict.trace, colour=colour, full=options.full,
                                       title=f"{file}: {verdict.scenario.title}"))
        if verdict.skipped is not None:
            if not quiet:
                print(f"SKIP {file}  {verdict.scenario.title}  ({verdict.skipped})")
        elif ok:
            if not quiet:
                print(f"PASS {file}  {verdict.scenario.title}  "
                      f"({len(verdict.trace.calls)} calls)")
        else:
            print(f"FAIL {file}  {verdict.scenario.title}")
            if not verdict.passed:
                print(verdict.report())
    if options.pcap:
        pcap.write_pcapng(options.pcap, [(v.scenario.name, v.trace) for v in verdicts])
    if options.keylog:
        with open(options.keylog, "w") as fh:
            fh.writelines(line + "\n" for v in verdicts for line in v.trace.keylog)
    skipped = sum(v.skipped is not None for v in verdicts)
    passed = len(verdicts) - failed - skipped
    if as_json:
        json.dump({"versions": versions.versions(),
                   "scenarios": [v.to_json() for v in verdicts]},
                  sys.stdout, indent=2, sort_keys=True)
        print()
    else:
        summary = f"{passed} passed, {failed} failed" + (f", {skipped} skipped"
                                                         if skipped else "")
        print(summary + (f", {errors} errors" if errors else ""))
    if errors:
        return 2
    return 1 if failed else 0


def _sweep(args: argparse.Namespace) -> int:
    from biopair.scenario.loader import ScenarioError, SweepSpec, load_scenario
    from biopair.search.sweep import sweep

    try:
        scenario = load_scenario(args.file)
    except ScenarioError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    spec = scenario.sweep or SweepSpec()
    changes: dict[str, object] = {}
    for name in ("fault", "link", "start", "stop", "stride"):
        value = getattr(args, name)
        if value is not None:
            if name in ("start", "stop", "stride") and value < (0 if name == "start" else 1):
                print(f"biopair: --{name} must be {'>= 0' if name == 'start' else '>= 1'}",
                      file=sys.stderr)
                return 2
            changes[name] = value
    if args.records:
        changes["unit"] = "records"
    if args.xor is not None:
        try:
            xor = bytes.fromhex(args.xor)
        except ValueError:
            xor = b""
        if not any(xor):
            print(f"biopair: --xor must be non-zero hex bytes, got {args.xor!r}",
                  file=sys.stderr)
            return 2
        changes["xor"] = xor
    spec = dataclasses.replace(spec, **changes)  # type: ignore[arg-type]
    if spec.stop is not None and spec.stop <= spec.start:
        print("biopair: --stop must be above --start", file=sys.stderr)
        return 2
    jobs = args.jobs or os.cpu_count() or 1
    report = sweep(scenario, spec, jobs=jobs, timeout=args.timeout)
    if args.json:
        json.dump(report.to_json(), sys.stdout, indent=2, sort_keys=True)
        print()
    else:
        print(report.summary())
    return 0 if report.passed else 1


def _peers_required() -> bool:
    # What the environment means is the front end's decision, not the runner's: CI
    # (CI=true) installs the external TLS programs, so there a missing one must surface
    # as the peer's own error; elsewhere the scenario is skipped, naming the package.
    return os.environ.get("CI") == "true"


def _load_and_run(file: Path, require_peers: bool) -> Verdict | None:
    """Run one scenario file; a bad one is one line on stderr and None.

    A harness bug in one file (any other exception) is its traceback on stderr, and
    None too: the other files still run and the summary counts it as an error.
    """
    from biopair.scenario.loader import ScenarioError, load_scenario
    from biopair.scenario.runner import run_scenario

    try:
        return run_scenario(load_scenario(file), require_peers=require_peers)
    except ScenarioError as exc:
        print(str(exc), file=sys.stderr)
        return None
    except Exception:
        print(f"{_escaped(str(file))}: internal error (a biopair bug, please report it):",
              file=sys.stderr)
        traceback.print_exc()
        return None


def _escaped(text: str) -> str:
    from biopair.scenario.model import escape

    return escape(text)


def _explain(paths: list[str]) -> int:
    from biopair.views import explain

    files, errors = _files(paths)
    failed = 0
    for file in files:
        verdict = _load_and_run(file, _peers_required())
        if verdict is None:
            errors += 1
            continue
        failed += not verdict.passed
        print(explain.explain(verdict))
        print()
    if errors:
        return 2
    return 1 if failed else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
