"""Entry point of the ``torchstn`` command.

Each sub-command module defines ``register(subparsers)`` which adds its parser and sets
``func=run`` where ``run(args) -> int``. Errors that are the user's fault are raised as
:class:`CLIError` (or ``ValueError``/``FileNotFoundError``) and printed as one line, exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# module names under torchstn.cli that provide sub-commands, in help order
COMMANDS = ["demo", "train", "eval", "models", "data", "visualize", "export", "reproduce"]


class CLIError(Exception):
    """A user error: printed as ``torchstn: error: <message>`` with exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="torchstn", description="Spatial Transformer Networks: train, evaluate, visualise."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"torchstn.cli.{name}")
        except ModuleNotFoundError as e:  # a command not written yet
            if e.name == f"torchstn.cli.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (CLIError, ValueError, FileNotFoundError) as e:
        print(f"torchstn: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("torchstn: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
