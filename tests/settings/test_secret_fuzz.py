"""Fuzz: a password written unencoded into a URL never shows in any error, whatever it contains.

Every example puts a random password, unencoded, in the password position of a database URL
(printable ASCII, with the URL delimiters ``@ / ? # : & = % + [ ]`` and space over-represented,
plus some non-ASCII), then reads it the way a project does and collects everything a user could
see: ``str``/``repr`` of the exception, the formatted traceback (what a log record with
``logger.exception`` or ``manage.py check`` prints, chained exceptions included), and
``errors()``/``json()`` of a ``ValidationError``; for a URL that parses, ``str``/``repr``/dumps of
the config.

The leak measure: a *leak* is a run of 3 consecutive password characters found in that output
(compared case-insensitively, raw or percent-encoded or JSON/repr-escaped), unless the same 3
characters are also found in the public text of the example, which is the URL without its
password plus the output of the same call with the password *masked* (each character that is not
a URL delimiter replaced by U+E000, so that the parse takes the same path and the message the same
wording). The masked run is what keeps "enc" in a random password from counting as a leak merely
because the message says "percent-encode"; runs made only of delimiters (e.g. "/?@") are therefore
not counted, as they are in the masked run too.

Rounds are bounded (a seeded loop, not wall time); ``DJANGO_CFG_FUZZ_SEED`` picks another seed.
"""

from __future__ import annotations

import functools
import json
import os
import random
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from django_cfg import (
    CacheConfig,
    DatabaseConfig,
    DatabaseURLError,
    DatabaseURLs,
    DjangoConfig,
    EmailConfig,
    databases_from_urls,
)
from tests.support.env_settings import environment_in

SEED = int(os.environ.get("DJANGO_CFG_FUZZ_SEED", "20261125"))
URL_ROUNDS = 20_000
CONFIG_ROUNDS = 2_000
ENV_ROUNDS = 150

DELIMITERS = "@/?#:&=%+[] "
PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F))
NON_ASCII = "éßü€£²５ąİ😀中\u00a0"
ALPHABET = PRINTABLE + NON_ASCII
MASK = "\ue000"

TEMPLATES = [
    "{scheme}://app:{pw}@db.example.com:5432/main",
    "{scheme}://app:{pw}@db.example.com/main?sslmode=require",
    "{scheme}://app:{pw}@db.example.com/main?sslmode=sometimes",
    "{scheme}://app:{pw}@db.example.com/main?sslmdoe=require",
    "{scheme}://app:{pw}@db.example.com/main?connect_timeout=soon",
    "{scheme}://app:{pw}@[::1]:5432/main",
    "{scheme}://app:{pw}@h1:5432,h2:5433/main?target_session_attrs=read-write",
    "{scheme}://app:{pw}@h1:5432,h2:x/main",
    "{scheme}://:{pw}@db/main",
    "{scheme}://app:{pw}@db.example.com:5432",
    "{scheme}://app:{pw}@db.example.com:99999/main",
    "{scheme}://app:{pw}@db.example.com:54x2/main",
    "{scheme}://app:{pw}@/main",
    "{scheme}://app:{pw}@db/main?pool=true&conn_max_age=60",
    "postgrsql://app:{pw}@db/main",
    "postgresql:/app:{pw}@db/main",
    "{scheme}:app:{pw}@db/main",
]
SCHEMES = ["postgresql", "mysql", "mariadb", "oracle"]


def random_password(rng: random.Random) -> str:
    length = rng.randint(1, 24)
    return "".join(
        rng.choice(DELIMITERS) if rng.random() < 0.3 else rng.choice(ALPHABET)
        for _ in range(length)
    )


def masked(password: str) -> str:
    return "".join(c if c in DELIMITERS else MASK for c in password)


@functools.lru_cache(maxsize=65536)
def renderings(text: str) -> set[str]:
    """The forms in which text may appear in an output, lower-cased."""
    if text.isascii() and text.isalnum():
        return {text.lower()}
    forms = {
        text,
        quote(text, safe=""),
        quote(text, safe=PRINTABLE.replace("%", "").replace(" ", "")),
        json.dumps(text)[1:-1],
        repr(text)[1:-1],
        text.encode("unicode_escape").decode("ascii"),
    }
    return {form.lower() for form in forms}


def leaks(secret: str, shown: str, public: str) -> list[str]:
    """Runs of 3 characters of ``secret`` that ``shown`` contains and ``public`` does not."""
    shown, public = shown.lower(), public.lower()
    found = []
    for start in range(len(secret) - 2):
        run = secret[start : start + 3]
        for form in renderings(run):
            if form in shown and form not in public:
                found.append(run)
                break
    return found


def chain(error: BaseException) -> Iterator[BaseException]:
    """The error and those a traceback prints with it ("direct cause", "during handling")."""
    current: BaseException | None = error
    while current is not None:
        yield current
        suppressed = current.__suppress_context__
        current = current.__cause__ or (None if suppressed else current.__context__)


def rendered(error: BaseException, full_traceback: bool = False) -> str:
    """Everything a user or a log could show of this error.

    A formatted traceback (``logger.exception``, ``manage.py check``) adds the source lines,
    which are code, to the messages of the chain; it is formatted in full for some examples only,
    as it costs more than the rest of the check together.
    """
    parts = [text for link in chain(error) for text in (str(link), repr(link))]
    if full_traceback:
        parts.append("".join(traceback.format_exception(error)))
    if isinstance(error, ValidationError):
        parts += [error.json(), str(error.errors()), repr(error.errors())]
    return "\n".join(parts)


def outcome(call: Callable[[], Any], full_traceback: bool = False) -> tuple[str, str]:
    """(kind, everything shown): the error's class name, or 'ok' and the result's renderings."""
    try:
        result = call()
    except (DatabaseURLError, ValidationError) as error:
        # InvalidSettings, the short-message ValidationError of config classes, counts as one
        kind = "ValidationError" if isinstance(error, ValidationError) else type(error).__name__
        return kind, rendered(error, full_traceback)
    shown = [str(result), repr(result)]
    if isinstance(result, BaseModel):  # a DatabaseConfig, DjangoConfig, CacheConfig, ...
        shown += [result.model_dump_json(), str(result.model_dump())]
    return "ok", "\n".join(shown)


class Tally:
    def __init__(self) -> None:
        self.examples = 0
        self.kinds: dict[str, int] = {}
        self.leaked: list[tuple[str, str, list[str]]] = []

    def check(self, password: str, build: Callable[[str], Callable[[], Any]], public: str) -> None:
        full_traceback = self.examples % 50 == 0
        kind, shown = outcome(build(password), full_traceback)
        _, masked_shown = outcome(build(masked(password)), full_traceback)
        self.examples += 1
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        found = leaks(password, shown, public + "\n" + masked_shown)
        if found:
            self.leaked.append((password, shown[:300], found))

    def assert_clean(self, minimum: int) -> None:
        assert self.examples >= minimum
        assert not self.leaked, (
            f"{len(self.leaked)} of {self.examples} examples leaked; first: {self.leaked[:3]}"
        )


def passwords(rng: random.Random, rounds: int) -> Iterator[str]:
    """Every character of ALPHABET at every position of a 16-character password, then random."""
    base = "".join(rng.choice(ALPHABET.replace(" ", "")) for _ in range(16))
    sweep = [base[:i] + c + base[i + 1 :] for c in ALPHABET for i in range(16)]
    yield from sweep
    for _ in range(rounds - len(sweep)):
        yield random_password(rng)


def _read(url: str) -> DatabaseConfig:
    database = DatabaseConfig.from_url(url)
    database.to_django()  # what Django gets holds the password, of course; it is not shown
    return database


def test_no_url_error_shows_3_characters_of_an_unencoded_password() -> None:
    rng = random.Random(SEED)
    tally = Tally()
    for number, password in enumerate(passwords(rng, URL_ROUNDS)):
        template = TEMPLATES[number % len(TEMPLATES)]
        scheme = SCHEMES[number // len(TEMPLATES) % len(SCHEMES)]

        def build(pw: str, template: str = template, scheme: str = scheme) -> Callable[[], Any]:
            url = template.format(scheme=scheme, pw=pw)
            return lambda: _read(url)

        tally.check(password, build, public=template.format(scheme=scheme, pw=""))
    tally.assert_clean(URL_ROUNDS)
    # Both outcomes are exercised: URLs that parse (no '@/?#' in the password) and errors.
    assert tally.kinds.get("ok", 0) > 1000
    assert tally.kinds.get("DatabaseURLError", 0) > 5000
    assert tally.kinds.get("ValidationError", 0) > 100


def _good_database() -> DatabaseConfig:
    return DatabaseConfig.from_url("postgresql://app@db.example.com/main")


CONFIG_CASES: list[Callable[[str], Callable[[], Any]]] = [
    lambda pw: (
        lambda: DjangoConfig(databases={"default": f"postgresql://app:{pw}@db.example.com/main"})
    ),
    lambda pw: (
        lambda: DjangoConfig(
            databases=databases_from_urls({"url": f"postgresql://app:{pw}@db.example.com/main?x=1"})
        )
    ),
    lambda pw: (
        lambda: DjangoConfig(
            databases={
                "default": {
                    "engine": "django.db.backends.postgresql",
                    "name": "main",
                    "password": pw,
                    "port": pw,
                    "read_weight": pw,
                }
            }
        )
    ),
    lambda pw: (
        lambda: DjangoConfig(databases={"default": _good_database()}, debug=False, secret_key=pw)
    ),
    lambda pw: lambda: DjangoConfig(databases={"default": _good_database()}, debug=pw),
    lambda pw: (
        lambda: DjangoConfig(databases={"default": _good_database()}, debug=False, secret_key=[pw])
    ),
    lambda pw: (
        lambda: DatabaseConfig(
            engine="django.db.backends.mysql", name="main", password=pw, port=pw, conn_max_age=pw
        )
    ),
    lambda pw: (
        lambda: databases_from_urls(DatabaseURLs(url=f"mysql://app:{pw}@db/main?sslmode=require"))
    ),
    lambda pw: (
        lambda: databases_from_urls({"url": f"postgresql://app:{pw}@db/main"}, default={"port": pw})
    ),
]


def test_no_config_error_shows_3_characters_of_a_secret() -> None:
    rng = random.Random(SEED + 1)
    tally = Tally()
    for number in range(CONFIG_ROUNDS):
        case = CONFIG_CASES[number % len(CONFIG_CASES)]
        tally.check(random_password(rng), case, public="postgresql://app:@db.example.com/main?x=1")
    tally.assert_clean(CONFIG_ROUNDS)
    assert tally.kinds.get("ValidationError", 0) > CONFIG_ROUNDS // 3


def test_no_env_loading_error_shows_3_characters_of_a_secret(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    """Values from config.dev.yaml and .env: a URL with a password, a bad bool, a numeric key."""
    rng = random.Random(SEED + 2)
    environment = environment_in(tmp_path)
    tally = Tally()

    def load(yaml_values: dict[str, Any], dotenv: str) -> Callable[[], Any]:
        def run() -> Any:
            (tmp_path / "config.dev.yaml").write_text(yaml.safe_dump(yaml_values))
            (tmp_path / ".env").write_text(dotenv)
            return databases_from_urls(environment().database)

        return run

    for number in range(ENV_ROUNDS):
        password = random_password(rng)
        digits = "".join(rng.choice("123456789") for _ in range(56))
        url = "postgresql://app:{}@db.example.com/main"
        cases: list[tuple[str, Callable[[str], Callable[[], Any]]]] = [
            (password, lambda pw, url=url: load({"database": {"url": url.format(pw)}}, "")),
            (password, lambda pw: load({"debug": pw}, "")),
            (password, lambda pw, url=url: load({}, f"DATABASE__URL_BLOG='{url.format(pw)}'\n")),
            (password, lambda pw: load({}, f"DEBUG={json.dumps(pw)}\n")),
            # A numeric secret key: YAML reads it as an int, which a SecretStr refuses.
            (digits, lambda pw: load({"secret_key": int(pw) if pw.isdigit() else 10**55}, "")),
        ]
        secret, build = cases[number % len(cases)]
        tally.check(secret, build, public=url.format("") + " DATABASE__URL_BLOG DEBUG")
    tally.assert_clean(ENV_ROUNDS)
    assert tally.kinds.get("ValidationError", 0) > ENV_ROUNDS // 5


def test_the_leak_measure_finds_a_leak() -> None:
    """The measure itself: an error that echoes 3 password characters is counted."""
    password = "zq/Xv?w@Kj"
    url = f"postgresql://app:{password}@db/main"
    echoed = f"bad URL {url[:24]}"
    assert leaks(password, echoed, public=url.replace(password, ""))
    assert leaks(password, quote(echoed, safe=""), public=url.replace(password, ""))
    assert not leaks(password, "postgresql://***@db/main", public=url.replace(password, ""))


CACHE_AND_EMAIL_ROUNDS = 3_000
CACHE_AND_EMAIL_TEMPLATES = [
    "redis://:{pw}@cache.example.com:6379/0",
    "rediss://app:{pw}@cache.example.com/1?timeout=soon",
    "redis://:{pw}@h1,h2/0",
    "memcached://app:{pw}@m1:11211",
    "smtp+tls://app%40example.com:{pw}@mail.example.com",
    "smtp+ssl://app:{pw}@mail.example.com:465?timeout=x",
    "smtp://app:{pw}@mail.example.com/path",
    "smtp://app:{pw}@",
]


def test_no_cache_or_email_url_error_shows_3_characters_of_a_password() -> None:
    """The cache and e-mail URLs are read with the database URLs' parser: the same guarantee,
    whether the URL is read alone or as a DjangoConfig field."""
    rng = random.Random(SEED + 1)
    tally = Tally()
    for number, password in enumerate(passwords(rng, CACHE_AND_EMAIL_ROUNDS)):
        template = CACHE_AND_EMAIL_TEMPLATES[number % len(CACHE_AND_EMAIL_TEMPLATES)]
        as_field = number % 2 == 1  # read alone, or as a DjangoConfig field

        def build(pw: str, template: str = template, as_field: bool = as_field) -> Any:
            url = template.format(pw=pw)
            if template.startswith("smtp"):
                value: Any = url
                read, field = EmailConfig.from_url, "email"
            else:
                value, read, field = {"default": url}, CacheConfig.from_url, "caches"
            if not as_field:
                return lambda: read(url)
            return lambda: DjangoConfig(databases={"default": _good_database()}, **{field: value})

        tally.check(password, build, public=template.format(pw=""))
    tally.assert_clean(CACHE_AND_EMAIL_ROUNDS)
    assert tally.kinds.get("ok", 0) > 300
    assert tally.kinds.get("DatabaseURLError", 0) + tally.kinds.get("ValidationError", 0) > 1000
