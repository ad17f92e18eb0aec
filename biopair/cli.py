"""The ``biopair`` command line.

Exit codes: 0 every scenario passed; 1 some expectation failed; 2 bad input (a scenario
that cannot be run as written, a bad option).  A bad scenario is one line on stderr naming
the file, the key path and the problem; the other scenarios still run.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from biopair import versions
from biopair.runner import Verdict, run_scenario
from biopair.scenario import ScenarioError, find_scenarios, load_scenario


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
    args = _parser().parse_args(argv)
    if args.version or args.command == "version":
        for name, value in versions.versions().items():
            print(f"{name} {value}")
        return 0
    if args.command == "diff":
        from biopair import diff as _diff

        try:
            code, report = _diff.main(args.a, args.b, max(0, args.context))
        except _diff.DiffInputError as exc:
            print(f"biopair diff: {exc}", file=sys.stderr)
            return 2
        print(report)
        return code
    if args.command == "run":
        return _run(args.paths, as_json=args.json, quiet=args.quiet)
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
        if verdict.skipped is not None:
            if not quiet:
                print(f"SKIP {file}  {verdict.scenario.title}  ({verdict.skipped})")
        elif verdict.passed:
            if not quiet:
                print(f"PASS {file}  {verdict.scenario.title}  "
                      f"({len(verdict.trace.calls)} calls)")
        else:
            print(f"FAIL {file}  {verdict.scenario.title}")
            print(verdict.report())
    skipped = sum(v.skipped is not None for v in verdicts)
    passed = sum(v.passed for v in verdicts) - skipped
    failed = len(verdicts) - passed - skipped
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
