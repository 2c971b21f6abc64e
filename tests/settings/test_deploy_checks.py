"""``manage.py check --deploy`` runs the package's deployment checks, and a production config
renders settings that pass Django's own (HTTPS redirect, HSTS, secure cookies, validators)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.support.manage_py_project import write_manage_py_project
from tests.support.spec_page import user_environment

CONFIG = """\
        import os
        from pydantic import SecretStr
        from django_cfg import DatabaseURLs, DjangoConfig, EnvSettings, databases_from_urls

        class Environment(EnvSettings):
            secret_key: SecretStr | None = None
            database: DatabaseURLs = DatabaseURLs()

        env = Environment()

        class MyDjangoConfig(DjangoConfig):
            secret_key = env.secret_key
            allowed_hosts = ["app.example.com"]
            databases = databases_from_urls(env.database)
            if os.environ.get("WEAK"):
                password_validators = []
                email = "console://"

        config = MyDjangoConfig()
        """
KEY = "k3y-" * 15


def check_deploy(tmp_path: Path, **variables: str) -> tuple[int, set[str], str]:
    """Exit status, the ids reported and the output of ``manage.py check --deploy``."""
    write_manage_py_project(tmp_path, CONFIG)
    environ = {k: v for k, v in user_environment().items() if not k.startswith("SECRET")}
    run = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=tmp_path,
        env={**environ, **variables},
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = run.stdout + run.stderr
    return run.returncode, set(re.findall(r"\(([a-z_]+\.[EW]\d+)\)", output)), output


def test_in_development_the_deploy_checks_name_the_environment_and_fallbacks(tmp_path) -> None:
    status, ids, output = check_deploy(tmp_path)
    assert status == 0, output
    assert {"django_cfg.W020", "django_cfg.W021", "django_cfg.W022"} <= ids
    assert "DJANGO_ENV is unset (environment 'dev')" in output
    assert "Database 'default' is sqlite:///db/default.sqlite3" in output
    assert "DATABASE__URL is not set in the process environment" in output


def test_in_production_the_package_checks_run_and_django_security_passes(tmp_path) -> None:
    status, ids, output = check_deploy(
        tmp_path,
        DJANGO_ENV="production",
        SECRET_KEY=KEY,
        DATABASE__URL="sqlite:///db/default.sqlite3",
        DATABASE__URL_REPLICA="postgresql://reader@replica.internal/main",
        DATABASE__URL_SHOP="postgresql://app@pgbouncer.internal:6432/shop",
        WEAK="1",
    )
    assert status == 0, output
    package = {i for i in ids if i.startswith("django_cfg.")}
    assert package == {
        "django_cfg.W023",  # the replica has no lag bound
        "django_cfg.W024",  # password_validators = []
        "django_cfg.W025",  # console e-mail
        "django_cfg.W060",  # a pooled URL without its pooler mode
    }, output
    assert "Replica 'replica_db' of 'default' has no lag bound" in output
    # HTTPS redirect, HSTS, secure cookies are on when debug is False
    assert not {"security.W004", "security.W008", "security.W012", "security.W016"} & ids
    assert KEY not in output


def test_a_production_config_without_weak_settings_reports_nothing_of_the_package(
    tmp_path,
) -> None:
    status, ids, output = check_deploy(
        tmp_path,
        DJANGO_ENV="prod",
        SECRET_KEY=KEY,
        DATABASE__URL="sqlite:///db/default.sqlite3",
    )
    assert status == 0, output
    assert not {i for i in ids if i.startswith("django_cfg.")}, output
    assert "security.W005" in ids  # HSTS without subdomains: Django's advice, left to the user
