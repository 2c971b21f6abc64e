"""A database password never shows: repr, str, dumps, validation errors, logs, exceptions."""

from __future__ import annotations

import logging
from urllib.parse import quote

import pytest
from pydantic import ValidationError

from django_cfg import DatabaseConfig, DatabaseURLs, DjangoConfig, databases_from_urls

PASSWORDS = ["hunter2-Very$ecret", "p@ss/w#rd?x", "Zx9-only-here"]


def urls_with(password: str) -> dict[str, str]:
    encoded = quote(password, safe="")
    return {
        "url": f"postgresql://app:{encoded}@db.example.com:5432/main?sslmode=require",
        "url_blog": f"mysql://blog:{encoded}@mysql.example.com/blog",
        "url_replica": f"postgresql://ro:{encoded}@replica.example.com/main?sslpassword={encoded}",
    }


@pytest.mark.parametrize("password", PASSWORDS)
def test_password_is_absent_from_every_rendering_of_the_configs(password: str) -> None:
    env = DatabaseURLs(**urls_with(password))
    databases = databases_from_urls(env)
    config = DjangoConfig(databases=databases)
    shown = [repr(env), str(env), env.model_dump_json(), str(env.model_dump())]
    for database in databases.values():
        shown += [
            repr(database),
            str(database),
            database.redacted_url,
            database.model_dump_json(),
            str(database.model_dump()),
        ]
    shown += [repr(config), str(config), config.model_dump_json(), str(config.model_dump())]
    for text in shown:
        assert password not in text
        assert quote(password, safe="") not in text
    # ...and Django still gets the real one
    assert config.get_all_settings()["DATABASES"]["default"]["PASSWORD"] == password
    assert (
        config.get_all_settings()["DATABASES"]["replica_db"]["OPTIONS"]["sslpassword"] == password
    )


@pytest.mark.parametrize("password", PASSWORDS)
def test_password_is_absent_from_errors_of_configs_built_from_urls(password: str) -> None:
    urls = urls_with(password)
    failures = [
        lambda: DatabaseConfig.from_url(urls["url"] + "&sslmode=twice"),
        lambda: DatabaseConfig.from_url(urls["url"], port=99999),
        lambda: DatabaseConfig.from_url(urls["url"], pool=True, conn_max_age=10),
        lambda: DjangoConfig(databases={"main": DatabaseConfig.from_url(urls["url"])}),
        lambda: DjangoConfig(
            databases={"default": DatabaseConfig.from_url(urls["url"])}, debug="x"
        ),
        lambda: DjangoConfig(
            databases={"default": DatabaseConfig.from_url(urls["url"])},
            debug=False,
            secret_key="short",
        ),
        lambda: databases_from_urls(DatabaseURLs(**urls, **{"not_a_url": urls["url"]})),
    ]
    for fail in failures:
        with pytest.raises(ValueError) as raised:  # noqa: PT011: DatabaseURLError or ValidationError
            fail()
        error = raised.value
        details = str(error.errors()) if isinstance(error, ValidationError) else ""
        for text in (str(error), repr(error), details):
            assert password not in text
            assert quote(password, safe="") not in text


def test_logging_a_database_config_shows_the_masked_url(caplog) -> None:
    database = DatabaseConfig.from_url("postgresql://app:Zx9-only-here@db/main")
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("connecting to %s (%r)", database, database)
    assert "Zx9-only-here" not in caplog.text
    assert "postgresql://app:***@db/main" in caplog.text


@pytest.mark.parametrize(
    ("url", "password"),
    [
        ("postgresql://app:Xq7/Vb9?!Kz@db/main", "Xq7/Vb9?!Kz"),
        ("postgresql://app:5432?sslmode=Wx4Yv8Qj@db/main", "Wx4Yv8Qj"),
        ("postgresql:/app:Jx5://Kq2Zv@db/main", "Jx5://Kq2Zv"),
    ],
)
def test_manage_py_check_with_a_malformed_url_fails_without_the_password(
    tmp_path, url: str, password: str
) -> None:
    from tests.support.example_project import ExampleProject

    project = ExampleProject.copy(tmp_path, urls={"blog_db": url})
    output = project.manage("check", check=False)
    assert "DatabaseURLError" in output
    assert "url_blog" in output  # the traceback shows the line that reads it
    # password: the random part of it, whose 3-character runs appear nowhere else (the
    # traceback's own text has words such as "module" and line numbers such as "543").
    runs = [password[i : i + 3] for i in range(len(password) - 2)]
    assert not [run for run in runs if run in output and any(c.isalnum() for c in run)], output
