"""EnvSettings: environ > .env.<env> > .env > config.<env>.yaml > defaults; both URL spellings."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from pydantic import SecretStr

from django_cfg import DatabaseURLs, alias_for_url_key, databases_from_urls
from tests.support.env_settings import environment_in


def url(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def test_defaults_apply_when_nothing_is_set(tmp_path, clean_env) -> None:
    env = environment_in(tmp_path)()
    assert url(env.database.url) == "sqlite:///db/default.sqlite3"
    assert env.debug is False


def test_precedence_environ_then_env_file_for_environment_then_env_then_yaml(tmp_path, clean_env):
    clean_env.setenv("DJANGO_ENV", "prod")
    (tmp_path / "config.prod.yaml").write_text(
        textwrap.dedent("""\
        debug: true
        secret_key: from-yaml
        database:
          url: "postgresql://yaml/main"
          url_blog: "postgresql://yaml/blog"
          url_shop: "postgresql://yaml/shop"
          url_audit: "postgresql://yaml/audit"
        """)
    )
    (tmp_path / ".env").write_text(
        'DATABASE__URL_BLOG="postgresql://dotenv/blog"\n'
        'DATABASE__URL_SHOP="postgresql://dotenv/shop"\nSECRET_KEY=from-dotenv\n'
    )
    (tmp_path / ".env.prod").write_text('DATABASE__URL_SHOP="postgresql://dotenv-prod/shop"\n')
    clean_env.setenv("DATABASE__URL", "postgresql://environ/main")

    env = environment_in(tmp_path)()
    assert url(env.database.url) == "postgresql://environ/main"
    assert url(env.database.url_blog) == "postgresql://dotenv/blog"
    assert url(env.database.url_shop) == "postgresql://dotenv-prod/shop"
    assert url(env.database.url_audit) == "postgresql://yaml/audit"
    assert url(env.secret_key) == "from-dotenv"
    assert env.debug is True  # only the YAML file says so


def test_environment_variable_selects_the_yaml_file(tmp_path, clean_env) -> None:
    (tmp_path / "config.dev.yaml").write_text('database:\n  url: "sqlite:///db/dev.sqlite3"\n')
    (tmp_path / "config.prod.yaml").write_text('database:\n  url: "postgresql://db/main"\n')
    assert url(environment_in(tmp_path)().database.url) == "sqlite:///db/dev.sqlite3"
    clean_env.setenv("DJANGO_ENV", "production")  # long names are accepted
    clean_env.setenv("SECRET_KEY", "k" * 50)  # required outside dev/test (test_safe_defaults.py)
    assert url(environment_in(tmp_path)().database.url) == "postgresql://db/main"


def test_single_and_double_underscore_names_both_load(tmp_path, clean_env) -> None:
    (tmp_path / ".env").write_text('DATABASE_URL_SHOP="postgresql://dotenv/shop"\n')
    clean_env.setenv("DATABASE_URL", "postgresql://single/main")
    clean_env.setenv("DATABASE__URL_BLOG", "postgresql://double/blog")
    env = environment_in(tmp_path)()
    assert url(env.database.url) == "postgresql://single/main"
    assert url(env.database.url_blog) == "postgresql://double/blog"
    assert url(env.database.url_shop) == "postgresql://dotenv/shop"


def test_double_underscore_wins_over_single_when_both_are_set(tmp_path, clean_env) -> None:
    clean_env.setenv("DATABASE_URL_BLOG", "postgresql://single/blog")
    clean_env.setenv("DATABASE__URL_BLOG", "postgresql://double/blog")
    assert url(environment_in(tmp_path)().database.url_blog) == "postgresql://double/blog"


def test_files_are_read_from_the_config_dir_not_the_current_directory(
    tmp_path, clean_env, monkeypatch
) -> None:
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / ".env").write_text('DATABASE__URL="postgresql://project/main"\n')
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / ".env").write_text('DATABASE__URL="postgresql://cwd/main"\n')
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert url(environment_in(tmp_path / "project")().database.url) == "postgresql://project/main"


def test_url_names_map_to_aliases_by_the_spec_convention() -> None:
    assert alias_for_url_key("url") == "default"
    assert alias_for_url_key("url_blog") == "blog_db"
    with pytest.raises(ValueError, match="'blog' is not a database URL name"):
        alias_for_url_key("blog")


def test_databases_from_urls_builds_the_databases_dict() -> None:
    urls = DatabaseURLs(url="postgresql://h/main", url_blog="postgresql://h/blog", url_shop="")
    databases = databases_from_urls(urls, blog_db={"apps": ["blog"]})
    assert sorted(databases) == ["blog_db", "default"]  # an empty URL is unset
    assert databases["blog_db"].name == "blog"
    assert databases["blog_db"].apps == ("blog",)
    with pytest.raises(ValueError, match="fields given for 'shop_db', which no URL configures"):
        databases_from_urls(urls, shop_db={"apps": ["shop"]})


def test_yaml_is_not_imported_unless_a_yaml_file_exists(tmp_path) -> None:
    code = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from django_cfg import DatabaseURLs, EnvSettings
        class Environment(EnvSettings):
            config_dir = Path({str(tmp_path)!r})
            database: DatabaseURLs = DatabaseURLs()
        Environment()
        print('yaml' in sys.modules)
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"
