"""``doppel``: the command line. Subcommands live in small modules that register themselves.

Heavy imports (torch, tree-sitter, Celery) happen inside the subcommand that needs them, so
``doppel --help`` is instant and the bot's commands never load a model.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import warnings
from collections.abc import Sequence

from core.errors import DoppelError

# Modules that add subcommands through ``register(subparsers)``; a missing optional one
# (its extra not installed) is left out of the help instead of breaking the CLI.
_COMMAND_MODULES = ("cli.review", "cli.report", "cli.train", "cli.bot")

# Warnings that third-party libraries raise about their own internals, which a doppel user can do
# nothing about: (category, module regex). Kept narrow so that anything else still shows.
QUIET_WARNINGS: tuple[tuple[type[Warning], str], ...] = (
    # transformers deprecates names peft still calls when it saves or loads an adapter
    # (`is_gradient_checkpointing` → `is_activation_checkpointing`): printed after every training.
    (FutureWarning, r"transformers(\.|$)"),
)


def quiet_third_party_warnings() -> None:
    """Filter the warnings of ``QUIET_WARNINGS`` (the one place doppel silences anything)."""
    for category, module in QUIET_WARNINGS:
        warnings.filterwarnings("ignore", category=category, module=module)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="doppel",
        description="Find near-duplicates and related code for the functions a change adds or modifies.",
        epilog="Settings come from DOPPEL_* environment variables (see the README). "
        "Run 'doppel COMMAND --help' for a command's options.",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more logging: -v lists skipped files with their reasons, -vv adds debug output",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("cli."):
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    quiet_third_party_warnings()
    if not sys.stderr.isatty():
        # No live progress line off a terminal (a CI log): progress comes as periodic log lines.
        logging.getLogger("core.progress").setLevel(logging.INFO)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except DoppelError as exc:
        print(f"doppel: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("doppel: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
