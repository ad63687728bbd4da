"""The ``vidal`` command line: ``vidal <command> ...``.

Each command lives in ``vidal/_cli/<command>.py`` with ``add_parser(subparsers)`` and
``run(args) -> int``; this module only lists them and dispatches.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from vidal.errors import VidalError

__all__ = ["main", "get_parser"]

# command name -> module under vidal._cli (imported lazily so `vidal info` never loads torch)
COMMANDS: dict[str, str] = {
    "demo": "demo",
    "run": "run",
    "select": "select",
    "label": "label",
    "report": "report",
    "train": "train",
    "eval": "eval",
    "synth": "synth",
    "info": "info",
    "show": "show",
}


def get_parser(commands: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vidal", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in commands or COMMANDS:
        try:
            module = importlib.import_module(f"vidal._cli.{COMMANDS[name]}")
        except ModuleNotFoundError as e:
            if e.name == f"vidal._cli.{COMMANDS[name]}":
                continue  # command not built into this install
            raise
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    wanted = [argv[0]] if argv and argv[0] in COMMANDS else None
    parser = get_parser(wanted)
    args = parser.parse_args(argv)
    if args.command is None:
        get_parser().print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except VidalError as e:
        print(f"vidal {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            f"vidal {args.command}: interrupted; files written before the interrupt are complete "
            "(each file is written whole or not at all)",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
