"""``manage.py tenant_command NAME COMMAND [ARGS...]``: any management command with a tenant
selected; ``--all-tenants``: for every tenant, each failure isolated.

    python manage.py tenant_command acme dumpdata notes --indent 2
    python manage.py tenant_command acme shell -c "print(Note.objects.count())"
    python manage.py tenant_command --all-tenants migrate                 # one after another
    python manage.py tenant_command --all-tenants --parallel 4 loaddata seed.json

The command runs inside ``use_tenant(NAME)``, the tenant's database opened first (so it is among
the aliases any command's ``--database`` accepts: flush, createcachetable, ...); a command with
a ``--database`` option gets ``--database tenant_<name>`` unless ARGS name one.
``--all-tenants`` runs it for each tenant (``list_tenants``), in this process one after another,
or with ``--parallel N`` in N processes at a time (each tenant's output printed as a block when
it ends). A failing tenant does not stop the others; the summary names each failure, and the
exit status is 1 if any failed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from django.conf import settings
from django.core.management import get_commands, load_command_class
from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_cfg.management.options import add_parallel_option
from django_cfg.management.output import summary
from django_cfg.management.tenant_commands import tenants_registry
from django_cfg.settings.tenant_names import tenant_alias
from django_cfg.tenants.context import use_tenant
from django_cfg.tenants.errors import UnknownTenantError
from django_cfg.tenants.registry import current_registry


class Command(BaseCommand):
    help = (
        "Runs a management command with a tenant selected (tenant_command NAME COMMAND ARGS), "
        "or for every tenant (--all-tenants COMMAND ARGS)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--all-tenants", action="store_true", help="Run the command for every tenant."
        )
        add_parallel_option(
            parser, "With --all-tenants: N tenants at a time, each in a process of its own."
        )
        parser.add_argument(
            "words",
            nargs=argparse.REMAINDER,
            metavar="[NAME] COMMAND [ARGS]",
            help="The tenant (without --all-tenants), the command and its arguments.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        words: list[str] = options["words"]
        every: bool = options["all_tenants"]
        registry = tenants_registry()
        if options["parallel"] < 1:
            raise CommandError(f"--parallel {options['parallel']}: give 1 or more.")
        if len(words) < (1 if every else 2):
            raise CommandError(
                "Give the tenant and the command: tenant_command NAME COMMAND [ARGS...], or "
                "tenant_command --all-tenants COMMAND [ARGS...]."
            )
        if every:
            self._run_for_all(registry.names(), words[0], words[1:], options)
            return
        name, command, rest = words[0], words[1], words[2:]
        try:
            registry.check(name)
        except (UnknownTenantError, ValueError) as error:
            raise CommandError(str(error)) from None
        run_command(name, command, rest)

    def _run_for_all(
        self, names: list[str], command: str, rest: list[str], options: dict[str, Any]
    ) -> None:
        _command_class(command)  # an unknown command: said once, before any tenant
        verbosity: int = options["verbosity"]
        if options["parallel"] > 1 and len(names) > 1:
            failures = self._in_processes(names, command, rest, options["parallel"], verbosity)
        else:
            failures = self._in_this_process(names, command, rest, verbosity)
        succeeded = {"succeeded": len(names) - len(failures)}
        if failures:
            raise CommandError(
                f"{command}: {len(failures)} of {len(names)} tenants failed; "
                + summary(succeeded, failures)
            )
        if verbosity >= 1:
            self.stdout.write(self.style.SUCCESS(f"{command}: " + summary(succeeded, {})))

    def _in_this_process(
        self, names: list[str], command: str, rest: list[str], verbosity: int
    ) -> dict[str, str]:
        failures: dict[str, str] = {}
        for name in names:
            if verbosity >= 1:
                self.stdout.write(self.style.MIGRATE_HEADING(f"== tenant {name}: {command}"))
            try:
                run_command(name, command, rest)
            except SystemExit as exit_:
                if exit_.code not in (0, None):
                    failures[name] = f"exit status {exit_.code}"
            except Exception as error:  # isolated: the other tenants go on
                if verbosity >= 2:
                    self.stderr.write(traceback.format_exc())
                failures[name] = f"{type(error).__name__}: {error}"
                self.stderr.write(self.style.ERROR(f"{name}: {failures[name]}"))
        return failures

    def _in_processes(
        self, names: list[str], command: str, rest: list[str], parallel: int, verbosity: int
    ) -> dict[str, str]:
        failures: dict[str, str] = {}
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            runs = {pool.submit(_run_in_process, name, command, rest): name for name in names}
            for run in as_completed(runs):
                name = runs[run]
                status, output, took = run.result()
                heading = f"== tenant {name}: {command}, exit status {status} ({took:.2f}s)"
                if verbosity >= 1 or status:
                    self.stdout.write(
                        self.style.MIGRATE_HEADING(heading)
                        if status == 0
                        else self.style.ERROR(heading)
                    )
                    self.stdout.write(output, ending="" if output.endswith("\n") else "\n")
                if status:
                    failures[name] = f"exit status {status}"
        return dict(sorted(failures.items()))


def run_command(name: str, command: str, rest: list[str]) -> None:
    """Run ``manage.py COMMAND REST`` in this process with tenant ``name`` selected (and its
    database as ``--database`` when the command has that option and REST names none)."""
    with use_tenant(name):
        registry = current_registry()
        assert registry is not None
        registry.alias_for(name)  # in connections now: every command's --database choices
        instance = _command_class(command)
        parser = instance.create_parser("manage.py", command)
        has_database = any("--database" in action.option_strings for action in parser._actions)
        given = any(word == "--database" or word.startswith("--database=") for word in rest)
        argv = ["manage.py", command, *rest]
        if has_database and not given:
            argv += ["--database", tenant_alias(name)]
        instance.run_from_argv(argv)


def _command_class(command: str) -> BaseCommand:
    app = get_commands().get(command)
    if app is None:
        raise CommandError(f"Unknown command: {command!r} (manage.py help lists them).")
    if isinstance(app, BaseCommand):
        return app
    return load_command_class(app, command)


def _run_in_process(name: str, command: str, rest: list[str]) -> tuple[int, str, float]:
    """``tenant_command NAME COMMAND REST`` in a process of its own: status, output, seconds."""
    started = time.perf_counter()
    run = subprocess.run(
        [*_manage_py(), "tenant_command", name, command, *rest],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": settings.SETTINGS_MODULE,
            "PYTHONPATH": os.pathsep.join(path for path in sys.path if path),
        },
        check=False,
    )
    return run.returncode, run.stdout, time.perf_counter() - started


def _manage_py() -> list[str]:
    """How this process was started, up to the command's name (``python manage.py``, or
    ``python -m mysite.manage``); run from code (``call_command``), a ``python -c`` running
    Django's command line (``_run_in_process`` gives it this process's ``sys.path``)."""
    argv = list(sys.orig_argv)
    if "tenant_command" in argv:
        return argv[: len(argv) - 1 - argv[::-1].index("tenant_command")]
    code = "import sys; from django.core.management import execute_from_command_line as run; "
    return [sys.executable, "-c", code + "run(['manage.py', *sys.argv[1:]])"]
