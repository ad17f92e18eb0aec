"""The ``biopair`` command line.

Exit codes: 0 every scenario passed; 1 some expectation failed; 2 bad input (a scenario
that cannot be run as written, a bad option); 130 / 143 interrupted by Ctrl-C (SIGINT) /
SIGTERM, after printing the summary of what completed.  A bad scenario is one line on stderr naming
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
from typing import TYPE_CHECKING, Any

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
    parser = _Parser(prog="biopair", description=__doc__.splitlines()[0],
                     epilog="Documentation: docs/ in the source tree, from "
                            "docs/scenario-format.md (writing a scenario) and docs/trace.md "
                            "(reading a run); each command's --help lists its options.")
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
                          "secrets embedded (tshark/Wireshark decrypt it without options); "
                          "created 0600, an existing file is replaced atomically, a "
                          "symbolic link is refused")
    run.add_argument("--keylog", metavar="FILE",
                     help="write the TLS secrets as an NSS key log (SSLKEYLOGFILE format); "
                          "created 0600, an existing file is replaced atomically, a "
                          "symbolic link is refused")
    run.add_argument("--html", metavar="OUT.html",
                     help="write the run of one scenario file as a self-contained HTML page "
                          "(an SVG sequence diagram you can step through; docs/html.md); "
                          "replaced atomically, a symbolic link is refused")
    run.add_argument("--update", action="store_true",
                     help="write each scenario's golden trace (name.trace) after checking "
                          "that two runs agree")
    run.add_argument("--golden", action="store_true",
                     help="fail scenarios that have no golden trace (by default only "
                          "existing name.trace files are compared)")
    run.add_argument("--no-golden", action="store_true",
                     help="do not compare golden traces (they record one environment; "
                          "under another, read `biopair diff` instead)")
    run.add_argument("--fill", metavar="FILE",
                     help="run FILE and write what the stack did into it: every step's "
                          "expect as a compressed pattern (WANT_READ{1775} 1) and the "
                          "[result] values, keeping comments, layout and version tables; "
                          "prints the diff (docs/scenario-format.md)")
    run.add_argument("--stacks", metavar="A,B,...",
                     help="run each scenario with every pair of these stacks (client x "
                          "server) and print the outcome sequences side by side, marking "
                          "where stacks disagree; with --json, the matrix (read by "
                          "`biopair diff`)")
    rep = sub.add_parser("report", help="write a scenario directory as a browsable site: one "
                                        "HTML page per scenario and an index by topic "
                                        "(docs/html.md)")
    rep.add_argument("root", help="scenario directory")
    rep.add_argument("-o", "--out", required=True, metavar="SITE",
                     help="the site's directory (created if missing)")
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
                    help="the swept direction: %(choices)s (default: the file's [sweep] "
                         "link, else server>client)")
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
    sw.add_argument("-q", "--quiet", action="store_true",
                    help="no progress bar (there is none unless stderr is a terminal and "
                         "NO_COLOR is unset)")
    ex = sub.add_parser("explore", help="search the scenario's [explore] schedule space for "
                                        "a schedule that refutes it; shrink and replay it "
                                        "(see docs/explore.md)")
    ex.add_argument("file", help="the scenario file")
    ex.add_argument("--exhaustive", action="store_true",
                    help="enumerate the space in its canonical order (fewest changes first)")
    ex.add_argument("--seed", type=int, default=0, help="random search seed (default 0)")
    ex.add_argument("--budget", type=int, help="at most this many schedules (default: the "
                                               "space when exhaustive, else 1000)")
    ex.add_argument("--time", type=float, metavar="S", help="stop starting schedules after "
                                                            "S seconds")
    ex.add_argument("--jobs", type=int, default=1, help="worker processes (default 1); the "
                                                        "result is the same")
    ex.add_argument("--out", metavar="FILE", help="write the shrunk counterexample as a "
                                                  "scenario file `biopair run` replays")
    ex.add_argument("--replay", metavar="SCHEDULE", help="run one schedule string (as a "
                                                         "report prints it) with its full "
                                                         "trace")
    ex.add_argument("--json", action="store_true", help="print the report as JSON")
    diff = sub.add_parser("diff", help="compare two `biopair run --json` outputs: where do "
                                       "the call sequences diverge? (exit 0 same, 1 "
                                       "different, 2 bad input)")
    diff.add_argument("a", help="JSON from `biopair run --json` (e.g. under OpenSSL 3.1)")
    diff.add_argument("b", nargs="?",
                      help="JSON from `biopair run --json` (e.g. under OpenSSL 4.0); "
                           "omitted: A is a `--stacks --json` matrix, and each combination "
                           "is compared with the scenario's first")
    diff.add_argument("--context", type=int, default=3, help="calls shown before the first "
                                                             "divergence (default 3)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``biopair`` command; returns the exit code."""
    from biopair.search import interrupt

    try:
        with interrupt.guard():
            return _main(argv)
    except interrupt.Interrupted as exc:
        # run and sweep print what completed themselves; elsewhere there is nothing to show.
        print(f"biopair: interrupted by {interrupt.signal_name(exc.signum)}", file=sys.stderr)
        return exc.exit_code
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
            # OpenSSL_version() already starts with "OpenSSL": not "OpenSSL OpenSSL 4.0.3".
            print(value if value.startswith(f"{name} ") else f"{name} {value}")
        return 0
    if args.command == "diff":
        from biopair.views import diff as _diff

        try:
            code, report = _diff.main(args.a, args.b, max(0, args.context), _width())
        except _diff.DiffInputError as exc:
            print(f"biopair diff: {exc}", file=sys.stderr)
            return 2
        print(report)
        return code
    if args.command == "run" and args.fill is not None:
        if args.paths != ["scenarios"] or args.json or args.update:
            print("biopair: --fill takes one FILE and no other paths, --json or --update",
                  file=sys.stderr)
            return 2
        return _fill(args.fill)
    if args.command == "run" and args.stacks is not None:
        return _run_stacks(args.paths, args.stacks, as_json=args.json,
                           require_peers=_peers_required())
    if args.command == "run":
        return _run(args.paths, as_json=args.json, quiet=args.quiet,
                    options=_RunOptions(ladder=args.trace, full=args.full, pcap=args.pcap,
                                        keylog=args.keylog, html=args.html,
                                        update=args.update,
                                        golden=args.golden, no_golden=args.no_golden,
                                        require_peers=_peers_required()))
    if args.command == "explain":
        return _explain(args.paths)
    if args.command == "report":
        return _report(args.root, args.out)
    if args.command == "index":
        from biopair.views import index

        return index.main([args.root, *(["--check"] if args.check else [])])
    if args.command == "sweep":
        return _sweep(args)
    if args.command == "explore":
        return _explore(args)
    _parser().print_help()
    return 2


@dataclass(frozen=True)
class _RunOptions:
    ladder: bool = False
    full: bool = False
    pcap: str | None = None
    keylog: str | None = None
    html: str | None = None
    update: bool = False
    golden: bool = False
    no_golden: bool = False
    #: a missing external TLS program is an error, not a skip (see _peers_required).
    require_peers: bool = False


def _output_problem(options: _RunOptions) -> str | None:
    """Why ``--pcap`` or ``--keylog`` cannot be written, found before any scenario runs."""
    from biopair.views import files

    outputs = [(name, path) for name, path in (("--pcap", options.pcap),
                                               ("--keylog", options.keylog),
                                               ("--html", options.html)) if path]
    for i, (name, path) in enumerate(outputs):
        for other, path2 in outputs[i + 1:]:
            if os.path.abspath(path) == os.path.abspath(path2):
                return f"{name} and {other} name the same file ({path})"
    for name, path in outputs:
        problem = files.check_destination(path, what=f"{name} ")
        if problem is not None:
            return problem
    return None


def _files(paths: list[str], bad: list[dict[str, str]] | None = None
           ) -> tuple[list[Path], int]:
    from biopair.scenario.loader import find_scenarios

    files: list[Path] = []
    errors = 0
    for path in paths:
        if not Path(path).exists():
            print(f"{_escaped(path)}: no such file or directory", file=sys.stderr)
            if bad is not None:
                bad.append({"file": path, "key": "", "message": "no such file or directory"})
            errors += 1
            continue
        files.extend(find_scenarios([path]))
    return files, errors


#: A call's ``pyopenssl`` view longer than this (a long read's repr) is shortened in
#: ``run --json``: the payload itself is in ``data`` (docs/json-schema.md).
VIEW_LIMIT = 200


def _short_views(doc: dict[str, object]) -> dict[str, object]:
    from biopair.views.ladder import shorten_repr

    for key in ("calls", "events"):
        for event in doc.get(key) or ():  # type: ignore[attr-defined]
            view = event.get("pyopenssl")
            if isinstance(view, str):
                event["pyopenssl"] = shorten_repr(view, VIEW_LIMIT, 80)
    return doc


def _width() -> int:
    # The front end reads the environment; views take the width as an argument.
    from biopair.views.ladder import width_from

    return width_from(os.environ)


def _bad_input(bad: list[dict[str, str]] | None, exc: Exception, file: Path | str) -> None:
    """Note a bad-input file for ``--json`` (every error of a ScenarioErrors)."""
    if bad is None:
        return
    for e in getattr(exc, "errors", [exc]):
        bad.append({"file": str(getattr(e, "path", file)), "key": getattr(e, "key", ""),
                    "message": getattr(e, "message", str(e))})


def _golden(verdict: Verdict, options: _RunOptions) -> golden.GoldenResult:
    from biopair.scenario.loader import load_scenario
    from biopair.scenario.runner import run_scenario
    from biopair.views import golden

    if options.no_golden and not options.update:
        return golden.GoldenResult("skipped", "")
    path = verdict.scenario.path
    return golden.check_run(verdict, update=options.update, require=options.golden,
                            rerun=lambda: run_scenario(load_scenario(path), every=True,
                                                       require_peers=options.require_peers))


def _run(paths: list[str], *, as_json: bool, quiet: bool,
         options: _RunOptions | None = None) -> int:
    from biopair.endpoints import versions
    from biopair.search import interrupt
    from biopair.views import files as files_
    from biopair.views import golden, pcap
    from biopair.views import ladder as render

    options = options or _RunOptions()
    problem = _output_problem(options)
    if problem is not None:
        print(f"biopair: {problem}", file=sys.stderr)
        return 2
    from biopair.views.ladder import fill, glue, plural

    bad: list[dict[str, str]] = []
    width = _width()
    files, errors = _files(paths, bad)
    if options.html and len(files) + errors != 1:
        print(f"biopair: --html draws one scenario file, and {len(files) + errors} were "
              "given (`biopair report DIR -o SITE/` draws a directory)", file=sys.stderr)
        return 2
    verdicts: list[Verdict] = []
    failed = 0
    colour = render.use_colour(sys.stdout.isatty(), os.environ)
    stopped: interrupt.Interrupted | None = None
    uses_golden = options.update or not options.no_golden
    try:
        for file in files:
            # A golden file that is a link, a directory or a FIFO is bad input, found
            # before the scenario runs: it is never followed, shown or opened.
            refused = golden.refusal(file) if uses_golden else None
            if refused is not None:
                print(refused, file=sys.stderr)
                bad.append({"file": str(file), "key": "", "message": refused})
                errors += 1
                continue
            verdict = _load_and_run(file, options.require_peers, bad)
            if verdict is None:
                errors += 1
                continue
            try:
                gold = (_golden(verdict, options) if verdict.skipped is None
                        else golden.GoldenResult("skipped", ""))
            except files_.FileRefused as exc:  # changed while the scenario ran
                print(str(exc), file=sys.stderr)
                _bad_input(bad, exc, file)
                errors += 1
                continue
            verdicts.append(verdict)
            if gold.message and (gold.failed or not as_json):
                print(gold.message, file=sys.stderr if as_json else sys.stdout)
            ok = verdict.passed and not gold.failed
            failed += not ok
            if as_json:
                continue
            if options.ladder and verdict.skipped is None:
                print(render.render_ladder(verdict.trace, colour=colour, full=options.full,
                                           title=f"{file}: {verdict.scenario.title}",
                                           width=width))
            # One line when it fits, else the title and the rest wrapped beneath.
            title = verdict.scenario.title
            if verdict.skipped is not None:
                if not quiet:
                    print(fill(f"{glue('SKIP ' + str(file))}  {title}  ({verdict.skipped})",
                               width, "", "     "))
            elif ok:
                if not quiet:
                    calls = plural(len(verdict.trace.calls), "call")
                    print(fill(f"{glue('PASS ' + str(file))}  {title}  ({calls})",
                               width, "", "     "))
            else:
                print(fill(f"{glue('FAIL ' + str(file))}  {title}", width, "", "     "))
                if not verdict.passed:
                    print(verdict.report(width))
    except interrupt.Interrupted as exc:
        # The scenario in progress was abandoned (its pair closed, its peer killed); what
        # completed is summed up below, and no pcap or key log is written.
        stopped = exc
    # Checked before the runs; a refusal here means the path changed while they ran.
    if options.pcap and stopped is None:
        try:
            pcap.write_pcapng(options.pcap, [(v.scenario.name, v.trace) for v in verdicts])
        except files_.FileRefused as exc:
            print(f"biopair: --pcap {exc}", file=sys.stderr)
            errors += 1
    if options.html and stopped is None and verdicts:
        from biopair.views import html

        try:
            html.write_page(options.html, verdicts[0])
        except files_.FileRefused as exc:
            print(f"biopair: --html {exc}", file=sys.stderr)
            errors += 1
    if options.keylog and stopped is None:
        try:
            files_.write_atomic(options.keylog, "".join(
                line + "\n" for v in verdicts for line in v.trace.keylog), secret=True)
        except files_.FileRefused as exc:
            print(f"biopair: --keylog {exc}", file=sys.stderr)
            errors += 1
    skipped = sum(v.skipped is not None for v in verdicts)
    passed = len(verdicts) - failed - skipped
    if as_json:
        json.dump({"versions": versions.versions(),
                   "scenarios": [_short_views(v.to_json()) for v in verdicts],
                   "errors": bad},
                  sys.stdout, indent=2, sort_keys=True)
        print()
    else:
        summary = f"{passed} passed, {failed} failed" + (f", {skipped} skipped"
                                                         if skipped else "")
        print(summary + (f", {plural(errors, 'error')}" if errors else "")
              + (f"; interrupted by {interrupt.signal_name(stopped.signum)} after "
                 f"{len(verdicts) + errors} of {len(files)} files" if stopped else ""))
    if stopped is not None:
        if as_json:
            print(f"biopair: interrupted by {interrupt.signal_name(stopped.signum)} after "
                  f"{len(verdicts) + errors} of {len(files)} files", file=sys.stderr)
        return stopped.exit_code
    if errors:
        return 2
    return 1 if failed else 0


def _run_stacks(paths: list[str], stacks_text: str, *, as_json: bool,
                require_peers: bool) -> int:
    # ``biopair run --stacks``: exit 2 for bad input, 1 if a combination that ran failed
    # an expectation, else 0.  Refused and skipped combinations are reported, not errors.
    from biopair.endpoints import versions
    from biopair.endpoints.registry import STACKS
    from biopair.scenario.loader import ScenarioError
    from biopair.views import matrix

    try:
        stacks = matrix.parse_stacks(stacks_text, STACKS)
    except ValueError as exc:
        print(f"biopair: {exc}", file=sys.stderr)
        return 2
    files, errors = _files(paths)
    matrices = []
    for file in files:
        try:
            m = matrix.run_matrix(file, stacks, require_peers=require_peers)
        except ScenarioError as exc:
            print(str(exc), file=sys.stderr)
            errors += 1
            continue
        matrices.append(m)
        if not as_json:
            print(matrix.render(m))
            print()
    failed = sum(r.status == "fail" for m in matrices for r in m.runs)
    if as_json:
        json.dump(matrix.to_json(matrices, versions.versions()), sys.stdout, indent=2,
                  sort_keys=True)
        print()
    else:
        runs = [r for m in matrices for r in m.runs]
        print(f"{len(matrices)} scenarios x {len(stacks) ** 2} combinations: "
              f"{sum(r.status == 'pass' for r in runs)} passed, {failed} failed, "
              f"{sum(r.status == 'skip' for r in runs)} skipped, "
              f"{sum(r.status == 'refused' for r in runs)} refused"
              + (f", {errors} errors" if errors else ""))
    if errors:
        return 2
    return 1 if failed else 0


def _sweep(args: argparse.Namespace) -> int:
    import signal

    from biopair.scenario.loader import ScenarioError, SweepSpec, load_scenario
    from biopair.search import interrupt
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
    bar = _progress_bar("run", quiet=args.quiet or args.json)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            if bar.total != total:  # known once the unfaulted run has measured the link
                bar.total = total
                bar.refresh()
            bar.update(done - bar.n)

    try:
        report = sweep(scenario, spec, jobs=jobs, timeout=args.timeout, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        json.dump(report.to_json(), sys.stdout, indent=2, sort_keys=True)
        print()
    else:
        print(report.summary(_width()))
    if report.interrupted:
        return interrupt.exit_code(getattr(signal, report.interrupted))
    return 0 if report.passed else 1


def _explore(args: argparse.Namespace) -> int:
    import signal

    from biopair.scenario.loader import ScenarioError, load_scenario
    from biopair.scenario.model import ExploreSpec
    from biopair.search import explore as ex
    from biopair.search import interrupt

    def bad(message: str) -> int:
        print(f"biopair explore: {message}", file=sys.stderr)
        return 2

    if args.budget is not None and not 1 <= args.budget <= ex.MAX_BUDGET:
        return bad(f"--budget must be 1 to {ex.MAX_BUDGET}, got {args.budget}")
    if args.time is not None and not 0 < args.time <= ex.MAX_SECONDS:
        return bad(f"--time must be above 0 and at most {ex.MAX_SECONDS} s, got {args.time}")
    if not 1 <= args.jobs <= ex.MAX_JOBS:
        return bad(f"--jobs must be 1 to {ex.MAX_JOBS}, got {args.jobs}")
    if args.seed < 0:
        return bad(f"--seed must be >= 0, got {args.seed}")
    try:
        scenario = load_scenario(args.file)
        ex.check_explorable(scenario)
        spec = scenario.explore or ExploreSpec()
        if args.replay is not None:
            try:
                point = ex.parse_schedule(args.replay)
            except ValueError as exc:
                return bad(f"--replay: {exc}")
            verdict, schedule = ex.run_once(scenario, spec, point, full=True)
            why = ex.refutation(verdict, spec)
            print(f"replay {args.file} {ex.format_schedule(schedule.applied)}: "
                  f"{ex.behaviour(verdict)}")
            print(verdict.report() if why else "holds")
            if why:
                print(f"  {why[1]}")
            return 1 if why else 0
        progress = None
        bar = _progress_bar("schedule", quiet=args.json, total=args.budget)
        if bar is not None:
            def progress(done: int, classes: int) -> None:
                bar.set_postfix_str(f"{classes} classes", refresh=False)
                bar.update(done - bar.n)
        try:
            report = ex.explore(scenario, spec, exhaustive=args.exhaustive, seed=args.seed,
                                budget=args.budget, seconds=args.time, jobs=args.jobs,
                                progress=progress)
        finally:
            if bar is not None:
                bar.close()
    except ScenarioError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except ex.Skipped as exc:  # nothing to explore here: like a skipped `biopair run`
        print(f"explore {args.file}: skipped: {exc}")
        return 0
    if args.out and report.counterexample is not None and not report.interrupted:
        try:
            ex.write_out(report, scenario, args.out)
        except OSError as exc:
            return bad(f"--out: {exc}")
    if args.json:
        json.dump(report.to_json(), sys.stdout, indent=2, sort_keys=True)
        print()
    else:
        print(report.summary())
    if report.interrupted:
        return interrupt.exit_code(getattr(signal, report.signal or "SIGINT"))
    return 1 if report.counterexample is not None else 0


def _fill(path: str) -> int:
    """``biopair run --fill FILE``: run it, write the actual outcomes in, show the diff."""
    from biopair.scenario.loader import ScenarioError, load_scenario
    from biopair.scenario.runner import run_scenario
    from biopair.views import files
    from biopair.views.golden import filled_text, unified_diff

    problem = files.check_destination(path, what="--fill ")
    if problem is not None:
        print(f"biopair: {problem}", file=sys.stderr)
        return 2
    try:
        raw = files.read_regular(path)
    except files.FileRefused as exc:
        print(f"biopair: --fill {exc}", file=sys.stderr)
        return 2
    if raw is None:
        print(f"{path}: no such file or directory", file=sys.stderr)
        return 2
    try:
        text = raw.decode()
        loaded = load_scenario(path)
        verdict = run_scenario(loaded, every=True, require_peers=_peers_required())
    except UnicodeDecodeError:
        print(f"{path}: not UTF-8 text", file=sys.stderr)
        return 2
    except ScenarioError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if verdict.skipped is not None:
        print(f"{path}: nothing to fill, the scenario did not run ({verdict.skipped})",
              file=sys.stderr)
        return 2
    new = filled_text(text, loaded, verdict)
    change = unified_diff(path, text, new)
    if not change:
        print(f"{path}: already says what the stack did; unchanged")
        return 0
    print(change, end="")
    try:
        files.write_atomic(path, new)
    except files.FileRefused as exc:
        print(f"biopair: --fill {exc}", file=sys.stderr)
        return 2
    print(f"filled {path}")
    return 0


def _progress_bar(unit: str, *, quiet: bool, total: int | None = None) -> Any:
    """A tqdm progress bar on stderr for long work, or None: nothing is drawn unless
    stderr is a terminal, ``NO_COLOR`` is unset and the command is not ``--quiet``."""
    if quiet or not sys.stderr.isatty() or "NO_COLOR" in os.environ:
        return None
    import shutil

    from tqdm import tqdm

    # A terminal that reports no size (0 x 0) gets 80 x 24: tqdm draws nothing in 0 rows.
    size = shutil.get_terminal_size((80, 24))
    return tqdm(total=total, unit=unit, file=sys.stderr, leave=False,
                ncols=max(size.columns, 40) - 1, nrows=max(size.lines, 2))


def _peers_required() -> bool:
    # What the environment means is the front end's decision, not the runner's: CI
    # (CI=true) installs the external TLS programs, so there a missing one must surface
    # as the peer's own error; elsewhere the scenario is skipped, naming the package.
    return os.environ.get("CI") == "true"


def _load_and_run(file: Path, require_peers: bool,
                  bad: list[dict[str, str]] | None = None) -> Verdict | None:
    """Run one scenario file, reporting every failed expectation; a bad file is one line
    per problem on stderr (and noted in ``bad``), and None.

    A harness bug in one file (any other exception) is its traceback on stderr, and
    None too: the other files still run and the summary counts it as an error.
    """
    from biopair.scenario.loader import ScenarioError, load_scenario
    from biopair.scenario.runner import run_scenario

    try:
        return run_scenario(load_scenario(file), require_peers=require_peers, every=True)
    except ScenarioError as exc:
        print(str(exc), file=sys.stderr)
        _bad_input(bad, exc, file)
        return None
    except Exception:
        print(f"{_escaped(str(file))}: internal error (a biopair bug, please report it):",
              file=sys.stderr)
        traceback.print_exc()
        return None


def _escaped(text: str) -> str:
    from biopair.scenario.model import escape

    return escape(text)


def _report(root: str, out: str) -> int:
    from biopair.search import interrupt
    from biopair.views import files as files_
    from biopair.views import html

    base = Path(root)
    if not base.is_dir():
        print(f"{root}: not a directory", file=sys.stderr)
        return 2
    try:
        site = html.prepare_site(out)
    except html.SiteError as exc:
        print(f"biopair report: {exc}", file=sys.stderr)
        return 2
    files, errors = _files([root])
    entries: list[tuple[Path, Verdict]] = []
    try:
        for file in files:
            verdict = _load_and_run(file, _peers_required())
            if verdict is None:
                errors += 1
                continue
            entries.append((file.relative_to(base), verdict))
    except interrupt.Interrupted as exc:
        print(f"biopair report: interrupted by {interrupt.signal_name(exc.signum)}; "
              "no site written", file=sys.stderr)
        return exc.exit_code
    try:
        written = html.write_site(site, base.resolve().name, entries)
    except (html.SiteError, files_.FileRefused) as exc:
        print(f"biopair report: {exc}", file=sys.stderr)
        return 2
    failed = sum(not v.passed for _, v in entries)
    print(f"wrote {written} files to {site} ({len(entries)} scenarios"
          + (f", {failed} failed" if failed else "")
          + (f", {errors} errors" if errors else "") + ")")
    if errors:
        return 2
    return 1 if failed else 0


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
        print(explain.explain(verdict, _width()))
        print()
    if errors:
        return 2
    return 1 if failed else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
