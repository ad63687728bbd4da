"""The ``vidal`` command line: ``vidal <command> ...``.

Each command lives in ``vidal/_cli/<command>.py`` with ``add_parser(subparsers)`` and
``run(args) -> int``; this module only lists them and dispatches. Bad input ends in one
line on stderr (``vidal <command>: error: ...``) and exit status 1, never a traceback;
warnings print as one line each.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Sequence

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


def _one_line_warnings(command: str) -> None:
    """Print each warning as ``vidal <command>: warning: <message>`` (no source lines)."""

    def show(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
        print(f"vidal {command}: warning: {message}", file=file or sys.stderr)

    warnings.showwarning = show


def _errors() -> tuple[type[BaseException], ...]:
    """The error types that mean bad input: vidal's, and those of ``tracking`` and ``losses``."""
    from losses import LossInputError
    from tracking import TrackingError
    from vidal.errors import VidalError

    return (VidalError, TrackingError, LossInputError)


def main(argv: Sequence[str] | None = None) -> int:
    # OpenMP threads that spin while waiting make PyTorch's CPU kernels many times slower as
    # soon as anything else runs on the machine (measured: 1.0 s against 6-8 s per training
    # step of the small model on 2 busy cores): sleep instead, unless the user chose
    # otherwise. Set here, before a command imports torch, never on `import vidal`.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    argv = list(sys.argv[1:] if argv is None else argv)
    wanted = [argv[0]] if argv and argv[0] in COMMANDS else None
    parser = get_parser(wanted)
    args = parser.parse_args(argv)
    if args.command is None:
        get_parser().print_help()
        return 2
    errors = _errors()
    with warnings.catch_warnings():
        _one_line_warnings(args.command)
        try:
            return int(args.func(args) or 0)
        except errors as e:
            print(f"vidal {args.command}: error: {e}", file=sys.stderr)
            return 1
        except OSError as e:  # a file or folder that cannot be read or written
            where = f"{e.filename}: " if e.filename else ""
            print(f"vidal {args.command}: error: {where}{e.strerror or e}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print(
                f"vidal {args.command}: interrupted; files written before the interrupt are "
                "complete (each file is written whole or not at all)",
                file=sys.stderr,
            )
            return 130


if __name__ == "__main__":
    sys.exit(main())
