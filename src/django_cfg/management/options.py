"""The options several commands declare, each declared once here.

add_database_option(parser, "Only this database (repeatable). Default: ...")
# --database ALIAS, repeatable, into options["databases"] (None when not given)
add_noinput_option(parser, "Repair without asking for confirmation.")
# --noinput / --no-input, as Django's commands: options["interactive"] becomes False
add_exclude_option(parser)
# -e / --exclude app_label[.ModelName], repeatable, as dumpdata's and loaddata's
add_parallel_option(parser, "Migrate up to N databases at once. Default: 1, one after another.")
# --parallel N, into options["parallel"] (1 when not given)
"""

from __future__ import annotations

from django.core.management.base import CommandParser

__all__ = [
    "add_database_option",
    "add_exclude_option",
    "add_noinput_option",
    "add_parallel_option",
]


def add_database_option(parser: CommandParser, help_text: str) -> None:
    """``--database ALIAS`` (repeatable), into ``options["databases"]``; check the names with
    ``did_you_mean.check_database_option``."""
    parser.add_argument(
        "--database", action="append", dest="databases", metavar="ALIAS", help=help_text
    )


def add_noinput_option(parser: CommandParser, help_text: str) -> None:
    """``--noinput`` / ``--no-input``, into ``options["interactive"]`` (True unless given)."""
    parser.add_argument(
        "--noinput", "--no-input", action="store_false", dest="interactive", help=help_text
    )


def add_exclude_option(parser: CommandParser) -> None:
    """``-e`` / ``--exclude`` (repeatable), into ``options["exclude"]`` (``[]`` when not given),
    passed on to dumpdata or loaddata."""
    parser.add_argument(
        "-e",
        "--exclude",
        action="append",
        default=[],
        help="An app_label or app_label.ModelName to exclude (repeatable).",
    )


def add_parallel_option(parser: CommandParser, help_text: str) -> None:
    """``--parallel N``, into ``options["parallel"]`` (``1``, one at a time, when not given)."""
    parser.add_argument("--parallel", type=int, default=1, metavar="N", help=help_text)
