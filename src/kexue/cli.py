"""Command-line interface: ``kexue list | info ID | reproduce [IDS...]`` (also ``python -m kexue``).

``list`` and ``info`` read only the catalogue and never import torch, so they answer instantly.

Logging: kexue's own messages (INFO by default, DEBUG with ``-v``) and other libraries' warnings go
to stderr through ``tqdm.write``, so they do not break the progress bar; other libraries' debug and
info lines (matplotlib's font manager, ...) are never shown. ``reproduce`` also writes everything,
tracebacks included, to ``<out>/reproduce.log``. The logging set-up is undone when :func:`main`
returns.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import textwrap
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from tqdm.auto import tqdm

from kexue import __version__, catalogue

__all__ = ["TqdmHandler", "build_parser", "main"]

EXIT_CLAIM_FAILED = 1
EXIT_USAGE = 2

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
FILE_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class TqdmHandler(logging.Handler):
    """A logging handler that writes through ``tqdm.write`` (above the progress bar, to stderr)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # logging must never raise into the caller
            self.handleError(record)


class _OneLineFormatter(logging.Formatter):
    """Leaves tracebacks out (they go to the log file; ``-v`` shows them on the console)."""

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        try:
            return super().format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved


def _only(kexue_level: int) -> Callable[[logging.LogRecord], bool]:
    """A filter passing kexue's records from ``kexue_level`` up, other libraries' from WARNING."""

    def keep(record: logging.LogRecord) -> bool:
        ours = record.name == "kexue" or record.name.startswith("kexue.")
        return record.levelno >= (kexue_level if ours else logging.WARNING)

    return keep


@contextlib.contextmanager
def _logging(verbose: bool, log_file: Path | None = None, append: bool = False) -> Iterator[None]:
    """Route logging to the console (and ``log_file``) for one command; undo it afterwards."""
    root, ours = logging.getLogger(), logging.getLogger("kexue")
    saved = root.level, ours.level, warnings.showwarning
    console_level = logging.DEBUG if verbose else logging.INFO
    console = TqdmHandler()
    console.setFormatter(
        logging.Formatter(LOG_FORMAT) if verbose else _OneLineFormatter(LOG_FORMAT)
    )
    console.addFilter(_only(console_level))
    handlers: list[logging.Handler] = [console]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        to_file = logging.FileHandler(log_file, mode="a" if append else "w", encoding="utf-8")
        to_file.setFormatter(logging.Formatter(FILE_LOG_FORMAT))
        to_file.addFilter(_only(logging.DEBUG))
        handlers.append(to_file)
    root.setLevel(logging.WARNING)  # other libraries: warnings and errors only
    ours.setLevel(logging.DEBUG if log_file is not None else console_level)
    for handler in handlers:
        root.addHandler(handler)
    logging.captureWarnings(True)  # warnings.warn(...) lines go above the bar too
    try:
        yield
    finally:
        logging.captureWarnings(False)
        for handler in handlers:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(saved[0])
        ours.setLevel(saved[1])
        warnings.showwarning = saved[2]


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

    from kexue.experiments.runner import run_one
    from kexue.report import LOG_NAME, headline, verdict_label, write_report

    out: Path = args.out
    size = "quick" if args.quick else "long" if args.long else "full"
    log_file = out / LOG_NAME
    outcomes = []
    with _logging(args.verbose, log_file, append=args.update):
        log = logging.getLogger(__name__)
        ids = " ".join(t.id for t in chosen)
        log.debug("kexue %s: reproduce %s, size %s, seed %d", __version__, ids, size, args.seed)
        bar = tqdm(chosen, desc="reproduce", unit="technique", disable=args.no_progress)
        for t in bar:
            bar.set_postfix_str(t.id)
            outcome = run_one(t, size=size, seed=args.seed, figure_dir=out / "figures")
            outcomes.append(outcome)
            verdict = verdict_label(outcome.to_json())
            log.debug(
                "%s %s in %.1f s on %d threads", t.id, verdict, outcome.runtime_s, outcome.threads
            )
            tqdm.write(f"{t.id:<3} {verdict:<5} {outcome.runtime_s:7.1f} s  {outcome.summary}")
            for c in outcome.checks:
                tqdm.write(f"      {c}")
            if outcome.error:
                tqdm.write(
                    f"      traceback in {log_file}; re-run alone: kexue reproduce {t.id} -v"
                )
        bar.close()
    try:
        results = write_report(outcomes, out, seed=args.seed, size=size, update=args.update)
    except ValueError as exc:
        print(f"kexue: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(
        f"{headline(results)}; report: {out / 'report.html'} (also report.md, results.json, {LOG_NAME})"
    )
    return EXIT_CLAIM_FAILED if results["failed"] or results["errors"] else 0


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
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show kexue's debug messages")
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
        "claim, and write results.json, report.md, report.html and reproduce.log. Exit code 0 when "
        "every claim is reproduced or SKIPPED (a data package is not installed; the report names "
        "the command that installs it), 1 when a claim fails or a run raises.",
    )
    p_rep.add_argument(  # also after the command: `kexue reproduce D2 -v`
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
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
    try:
        if args.func is _cmd_reproduce:  # sets up logging itself, with a log file in --out
            return int(args.func(args))
        with _logging(args.verbose):
            return int(args.func(args))
    except BrokenPipeError:  # e.g. `kexue list | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
