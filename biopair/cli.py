"""The ``biopair`` command line.

Exit codes: 0 every scenario passed; 1 some expectation failed; 2 bad input (a scenario
that cannot be run as written, a bad option).  A bad scenario is one line on stderr naming
the file, the key path and the problem; the other scenarios still run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from biopair import versions
from biopair.link import DIRECTIONS
from biopair.runner import Verdict, run_scenario
from biopair.scenario import (
    SWEEP_FAULTS,
    ScenarioError,
    SweepSpec,
    find_scenarios,
    load_scenario,
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"biopair: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="biopair", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="store_true", help="print versions and exit")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run scenario files or directories")
    run.add_argument("paths", nargs="*", default=["scenarios"],
                     help="scenario files or directories (default: scenarios)")
    run.add_argument("--json", action="store_true",
                     help="print one JSON document: per scenario its file, title, passed "
                          "and calls")
    run.add_argument("-q", "--quiet", action="store_true", help="print failures and the "
                                                                "summary only")
    sub.add_parser("version", help="print biopair, pyOpenSSL, cryptography, OpenSSL versions")
    sw = sub.add_parser("sweep", help="run a scenario once per byte/record of a link with a "
                                      "fault there (see docs/faults.md)")
    sw.add_argument("file", help="the scenario file")
    sw.add_argument("--fault", choices=SWEEP_FAULTS, help="fault kind (default: the file's "
                                                          "[sweep] fault, else corrupt)")
    sw.add_argument("--link", choices=DIRECTIONS, help="the swept direction")
    sw.add_argument("--records", action="store_true", help="one run per record, not per byte")
    sw.add_argument("--start", type=int, help="first offset/record")
    sw.add_argument("--stop", type=int, help="end offset/record (exclusive)")
    sw.add_argument("--stride", type=int, help="step between positions")
    sw.add_argument("--xor", help="hex bytes a corrupt fault XORs in (default ff)")
    sw.add_argument("--jobs", type=int, default=0,
                    help="worker processes (default: one per CPU; 1 runs in-process)")
    sw.add_argument("--timeout", type=float, default=60.0,
                    help="seconds a single run may take before it counts as a hang")
    sw.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``biopair`` command; returns the exit code."""
    args = _parser().parse_args(argv)
    if args.version or args.command == "version":
        for name, value in versions.versions().items():
            print(f"{name} {value}")
        return 0
    if args.command == "run":
        return _run(args.paths, as_json=args.json, quiet=args.quiet)
    if args.command == "sweep":
        return _sweep(args)
    _parser().print_help()
    return 2


def _run(paths: list[str], *, as_json: bool, quiet: bool) -> int:
    files = []
    errors = 0
    for path in paths:
        if not Path(path).exists():
            print(f"{path}: no such file or directory", file=sys.stderr)
            errors += 1
            continue
        files.extend(find_scenarios([path]))
    verdicts: list[Verdict] = []
    for file in files:
        try:
            verdict = run_scenario(load_scenario(file))
        except ScenarioError as exc:
            print(str(exc), file=sys.stderr)
            errors += 1
            continue
        verdicts.append(verdict)
        if as_json:
            continue
        if verdict.passed:
            if not quiet:
                print(f"PASS {file}  {verdict.scenario.title}  "
                      f"({len(verdict.trace.calls)} calls)")
        else:
            print(f"FAIL {file}  {verdict.scenario.title}")
            print(verdict.report())
    passed = sum(v.passed for v in verdicts)
    failed = len(verdicts) - passed
    if as_json:
        json.dump({"versions": versions.versions(),
                   "scenarios": [v.to_json() for v in verdicts]},
                  sys.stdout, indent=2, sort_keys=True)
        print()
    else:
        summary = f"{passed} passed, {failed} failed"
        print(summary + (f", {errors} errors" if errors else ""))
    if errors:
        return 2
    return 1 if failed else 0


def _sweep(args: argparse.Namespace) -> int:
    from biopair.sweep import sweep

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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
