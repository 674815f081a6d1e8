"""``/similar`` commands written in pull request comments: parsing only (pure)."""

from bot.commands.parse import Command, CommandKind, find_command, parse_command

__all__ = ["Command", "CommandKind", "find_command", "parse_command"]
