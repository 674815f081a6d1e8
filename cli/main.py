"""``doppel``: the command line. Subcommands live in small modules that register themselves.

Heavy imports (torch, tree-sitter, Celery) happen inside the subcommand that needs them, so
``doppel --help`` is instant and the bot's commands never load a model.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from core.errors import DoppelError

# Modules that add subcommands through ``register(subparsers)``; a missing optional one
# (its extra not installed) is left out of the help instead of breaking the CLI.
_COMMAND_MODULES = ("cli.review", "cli.train", "cli.bot")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="doppel",
        description="Find near-duplicates and related code for the functions a change adds or modifies.",
        epilog="Settings come from DOPPEL_* environment variables (see the README). "
        "Run 'doppel COMMAND --help' for a command's options.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
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
