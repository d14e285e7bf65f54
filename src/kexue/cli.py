"""Command-line interface: ``kexue list | info ID | reproduce [IDS...]`` (also ``python -m kexue``).

``list`` and ``info`` read only the catalogue and never import torch, so they answer instantly.
"""

from __future__ import annotations

import argparse
import logging
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from kexue import catalogue

__all__ = ["main"]

EXIT_CLAIM_FAILED = 1
EXIT_USAGE = 2


def _cmd_list(args: argparse.Namespace) -> int:
    rows = [t for t in catalogue.TECHNIQUES if args.all or t.implemented]
    if not rows:
        print("no implemented techniques yet; `kexue list --all` shows the planned catalogue")
        return 0
    width = max(len(t.name) for t in rows)
    for t in rows:
        status = "" if t.implemented else "  (planned)"
        print(f"{t.id:<3} {t.family:<11} {t.name:<{width}}  {t.url}{status}")
    if not args.all:
        n_planned = len(catalogue.TECHNIQUES) - len(rows)
        if n_planned:
            print(f"\n{n_planned} more planned: `kexue list --all` shows them.")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    try:
        t = catalogue.get(args.id)
    except KeyError as exc:
        print(f"kexue: {exc.args[0]}", file=sys.stderr)
        return EXIT_USAGE
    wrap = textwrap.TextWrapper(width=96, subsequent_indent=" " * 12)
    print(f"{t.id} — {t.name} [{t.status}]")
    print(f"  article:  {t.article}")
    for aid in t.article_ids:
        print(f"            {catalogue.KEXUE_URL.format(aid)}")
    print(f"  family:   {t.family}")
    print(wrap.fill(f"  claim:    {t.claim}"))
    if t.article_figure:
        print(wrap.fill(f"  article's figures: {t.article_figure}"))
    if t.modules:
        print("  api:      " + "\n            ".join(t.api))
    if t.experiment:
        print(f"  reproduce: kexue reproduce {t.id}   ({t.experiment})")
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    try:
        chosen = [catalogue.get(i) for i in args.ids] if args.ids else list(catalogue.implemented())
    except KeyError as exc:
        print(f"kexue: {exc.args[0]}", file=sys.stderr)
        return EXIT_USAGE
    planned = [t.id for t in chosen if not t.implemented]
    if planned:
        done = ", ".join(t.id for t in catalogue.implemented()) or "none yet"
        print(
            f"kexue: {', '.join(planned)} not implemented yet (planned); implemented: {done}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not chosen:
        print("kexue: nothing to reproduce yet", file=sys.stderr)
        return EXIT_USAGE

    from tqdm.auto import tqdm

    from kexue.experiments.runner import run_one
    from kexue.report import write_report

    out: Path = args.out
    size = "quick" if args.quick else "long" if args.long else "full"
    outcomes = []
    bar = tqdm(chosen, desc="reproduce", unit="technique", disable=args.no_progress)
    for t in bar:
        bar.set_postfix_str(t.id)
        outcome = run_one(t, size=size, seed=args.seed, figure_dir=out / "figures")
        outcomes.append(outcome)
        tqdm.write(f"{t.id:<3} {outcome.verdict:<5} {outcome.runtime_s:7.1f} s  {outcome.summary}")
        for c in outcome.checks:
            tqdm.write(f"      {c}")
        if outcome.error:
            tqdm.write(f"      {outcome.error}")
    try:
        results = write_report(outcomes, out, seed=args.seed, size=size, update=args.update)
    except ValueError as exc:
        print(f"kexue: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(
        f"{results['passed']}/{results['total']} claims reproduced; "
        f"report: {out / 'report.html'} (also report.md, results.json)"
    )
    run_ok = all(o.passed for o in outcomes)
    return 0 if run_ok and results["passed"] == results["total"] else EXIT_CLAIM_FAILED


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="kexue",
        description=(
            "Techniques from Su Jianlin's Scientific Spaces (kexue.fm) as tested PyTorch components, "
            "each proven by reproducing its article's claim on bundled data."
        ),
        epilog="Examples: kexue list | kexue info D2 | kexue reproduce D2 B1 --quick --out /tmp/r",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p_list = sub.add_parser("list", help="list techniques (implemented; --all for the catalogue)")
    p_list.add_argument("--all", action="store_true", help="include planned techniques")
    p_list.set_defaults(func=_cmd_list)

    p_info = sub.add_parser("info", help="show a technique's article, claim, API and experiment")
    p_info.add_argument("id", help="technique id, e.g. D2")
    p_info.set_defaults(func=_cmd_info)

    p_rep = sub.add_parser(
        "reproduce",
        help="re-run articles' claims and write a report",
        description="Run reproductions (all implemented ones by default), check each article's "
        "claim, and write results.json, report.md and report.html. Exit code 1 if a claim fails.",
    )
    p_rep.add_argument("ids", nargs="*", metavar="ID", help="technique ids (default: all)")
    sizes = p_rep.add_mutually_exclusive_group()
    sizes.add_argument("--quick", action="store_true", help="small sizes (seconds per technique)")
    sizes.add_argument(
        "--long",
        action="store_true",
        help="longer runs where a technique has them (more seeds, steps or sizes; tens of minutes)",
    )
    p_rep.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p_rep.add_argument(
        "--out", type=Path, default=Path("report"), help="output folder (default: ./report)"
    )
    p_rep.add_argument(
        "--update",
        action="store_true",
        help="keep the other techniques of an existing report in --out (same seed and size)",
    )
    p_rep.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p_rep.set_defaults(func=_cmd_reproduce)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kexue`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args))
    except BrokenPipeError:  # e.g. `kexue list | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
