"""Command line: ``python -m mtl_teach <command>`` (also installed as ``mtl-teach``).

Each subcommand lives in its own module exposing ``add_arguments(parser)``
and ``run(args) -> int``; it is imported only when that command runs, so
``mtl-teach --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# name -> (module, one-line help). Add a line here to add a command.
COMMANDS: dict[str, tuple[str, str]] = {
    "info": ("mtl_teach.cli_info", "print versions and the device training would use"),
    "release": (
        "mtl_teach.grading.release",
        "write student versions of source notebooks (solutions stubbed, hidden tests removed)",
    ),
    "grade": (
        "mtl_teach.grading.batch",
        "grade submitted notebooks: grades.csv, HTML feedback, Gradescope results.json",
    ),
    "links": ("mtl_teach.classroom.course_links", "print each notebook's nbgitpuller link for a class hub"),
    "submit": ("mtl_teach.classroom.handin", "hand in a notebook on a class hub (a timestamped copy)"),
    "collect": (
        "mtl_teach.classroom.collect",
        "gather each student's latest hand-in into a folder for grade, with hand-in times",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mtl-teach", description="mtl-teach: a Jupyter teaching kit for multi-task learning."
    )
    from mtl_teach import __version__

    parser.add_argument("--version", action="version", version=f"mtl-teach {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0] not in COMMANDS:
        args = parser.parse_args(argv)  # --help, --version, or an error naming the commands
        parser.print_help()
        return 2 if args.command is None and argv else 0
    name = argv[0]
    module = importlib.import_module(COMMANDS[name][0])
    command = argparse.ArgumentParser(prog=f"mtl-teach {name}", description=COMMANDS[name][1])
    module.add_arguments(command)
    from mtl_teach._errors import MTLConfigError

    try:
        return int(module.run(command.parse_args(argv[1:])) or 0)
    except MTLConfigError as error:  # a bad argument: say which and how to fix it, without a traceback
        command.error(str(error))
