"""Django's error reports without database passwords: ``DEFAULT_EXCEPTION_REPORTER_FILTER``.

``DjangoConfig`` sets it (field ``exception_reporter_filter``). A filter of your own keeps the
guarantee by subclassing this one:

    from django_cfg.settings.error_reports import DatabasePasswordFilter

    class MyFilter(DatabasePasswordFilter):
        hidden_settings = re.compile("API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|DSN", re.I)

    class MyDjangoConfig(DjangoConfig):
        exception_reporter_filter = "myproject.errors.MyFilter"

On top of Django's ``SafeExceptionReporterFilter`` (secret-looking setting names,
``sensitive_variables``), whether ``DEBUG`` is on or off, in the frame variables, the settings,
``request.META`` and the cookies of the DEBUG page and the ADMINS e-mail:

- every configured database password (``DATABASES``, databases added at run time such as a
  tenant's, ``DJANGO_CFG_TENANTS`` templates and ``passwords``; ``CACHES`` and
  ``EMAIL_HOST_PASSWORD`` too), as given, URL-quoted or escaped, is replaced wherever it
  occurs in a value or its repr;
- values at keys named like a password (``password``, ``PASSWORD``, ``passwd``,
  ``sslpassword``...), ``password=...`` in connection strings and ``user:password@`` in URLs
  are replaced, whatever the password.

It runs only while a report is built. Django imports it then (by its dotted path): the settings
half never imports this module.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import lru_cache
from pprint import pformat
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

from django.conf import settings
from django.db import connections
from django.views.debug import SafeExceptionReporterFilter

from django_cfg.settings.tenant_names import TENANTS_SETTING, template_text

__all__ = ["DatabasePasswordFilter", "configured_passwords"]

SECRET_NAME = re.compile(r"passw|^pass$|^pwd$", re.IGNORECASE)
"""A key or variable name whose value is a password: password, PASSWORD, passwd, passwords..."""

_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^\s:/?#@'\"]*:)[^\s/?#'\"]*@", re.I)
_KEYED_PASSWORD = re.compile(  # password=... (libpq), 'password': '...' (a repr), ?passwd=...
    r"(?P<head>pass(?:word|wd)?['\"]?\s*[=:]\s*)"
    r"(?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""
    r"|[^\s,;&()}\]'\"]++(?!\())",  # a bare value, not a call such as SecretStr('***')
    re.IGNORECASE,
)
_PLAIN = (int, float, bool, type(None))
_CONTAINERS = (list, tuple, set, frozenset)
_MAX_DEPTH = 50


def configured_passwords() -> set[str]:
    """Every password the project's databases are configured with, read now: the settings of
    ``DATABASES`` and of the databases added at run time (``connections.settings``), the
    passwords of the ``DJANGO_CFG_TENANTS`` templates and its ``passwords``; and those of
    ``CACHES`` and ``EMAIL_HOST_PASSWORD``."""
    found: set[str] = set()
    try:
        added = connections.settings
    except Exception:  # DATABASES itself is wrong (maybe the error reported): read as given
        added = {}
    databases = [getattr(settings, "DATABASES", None), added]
    entries = {
        id(entry): entry  # connections.settings holds DATABASES' own dicts: each read once
        for mapping in databases
        if isinstance(mapping, Mapping)
        for entry in mapping.values()
        if isinstance(entry, Mapping)
    }
    for entry in entries.values():
        found.update(_database_passwords(entry))
    tenants = getattr(settings, TENANTS_SETTING, None)
    if isinstance(tenants, Mapping):
        templates = [
            tenants.get("url"),
            *(tenants.get("replica_urls") or ()),
            tenants.get("test_url"),
        ]
        for template in templates:
            if template is not None:
                found.update(_url_passwords(template_text(template)))
        found.update(_texts(tenants.get("passwords")))
    found.update(_cache_passwords(getattr(settings, "CACHES", None)))
    found.update(_texts(getattr(settings, "EMAIL_HOST_PASSWORD", None)))
    found.discard("")
    return found


def _cache_passwords(caches: Any) -> Iterator[str]:
    """The passwords of ``CACHES``: in its ``LOCATION`` URLs (redis://:password@...) and its
    password-named ``OPTIONS``."""
    for entry in caches.values() if isinstance(caches, Mapping) else ():
        if not isinstance(entry, Mapping):
            continue
        location = entry.get("LOCATION")
        for url in [location] if isinstance(location, str) else location or ():
            if isinstance(url, str):
                yield from _url_passwords(url)
        yield from _database_passwords({"OPTIONS": entry.get("OPTIONS")})


def _database_passwords(entry: Mapping[str, Any]) -> Iterator[str]:
    """The passwords of one ``DATABASES`` entry: ``PASSWORD``, ``TEST['PASSWORD']`` and the
    password-named ``OPTIONS`` (``password``, ``passwd``, ``sslpassword``...)."""
    yield from _texts(entry.get("PASSWORD"))
    test, options = entry.get("TEST"), entry.get("OPTIONS")
    if isinstance(test, Mapping):
        yield from _texts(test.get("PASSWORD"))
    if isinstance(options, Mapping):
        for key, value in options.items():
            if isinstance(key, str) and SECRET_NAME.search(key):
                yield from _texts(value)


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, str):
        yield value
    elif hasattr(value, "get_secret_value"):  # pydantic's SecretStr
        yield from _texts(value.get_secret_value())


def _url_passwords(url: str) -> Iterator[str]:
    """The password of ``url`` (as written and unquoted) and of its password-like parameters."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # not a URL: the text of its password is unknown
        return
    if password:
        yield from (password, unquote(password))
    for key, value in parse_qsl(parts.query):
        if SECRET_NAME.search(key):
            yield value


def _forms(password: str) -> set[str]:
    """How ``password`` may be written in a value: as is, URL-quoted, escaped in a libpq
    connection string, and each of those inside a Python repr."""
    conninfo = password.replace("\\", "\\\\").replace("'", "\\'")
    forms = {password, quote(password, safe=""), quote(password), quote_plus(password), conninfo}
    return {text for form in forms for text in (form, repr(form)[1:-1]) if text}


@lru_cache(maxsize=16)
def _password_pattern(passwords: frozenset[str]) -> re.Pattern[str] | None:
    forms = {form.lower() for password in passwords for form in _forms(password)}
    if not forms:
        return None
    trie: dict[str, Any] = {}  # one branch per first character: the regex never tries each form
    for form in forms:
        node = trie
        for char in form:
            node = node.setdefault(char, {})
        node[""] = {}
    try:
        return re.compile(_alternatives(trie), re.IGNORECASE)
    except (RecursionError, re.error):  # thousands of nested prefixes: each form in turn
        ordered = sorted(forms, key=len, reverse=True)  # the longest first: none left half
        return re.compile("|".join(map(re.escape, ordered)), re.IGNORECASE)


def _alternatives(node: dict[str, Any]) -> str:
    """A regex of the words of ``node``'s trie, the longest first (none is left half hidden:
    %2B matches before %2). Nested once per branching, not per character."""
    branches = []
    for first, after in node.items():
        if not first:
            continue
        text, child = re.escape(first), after
        while len(child) == 1 and "" not in child:  # a run of single characters: one literal
            ((char, child),) = child.items()
            text += re.escape(char)
        branches.append(text + _alternatives(child))
    if not branches:
        return ""
    if "" not in node:
        return branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
    return f"(?:{'|'.join(branches)})?"


class _Shown:
    """A value's cleansed repr: Django's ``pprint`` and ``%r`` show it as it is."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Shown) and other.text == self.text


class DatabasePasswordFilter(SafeExceptionReporterFilter):
    """``SafeExceptionReporterFilter`` that never shows a database password (module doc)."""

    def hider(self) -> Callable[[str], str]:
        """A function that replaces the passwords in a text; built once per report part."""
        pattern = _password_pattern(frozenset(configured_passwords()))
        substitute = self.cleansed_substitute

        def hide(text: str) -> str:
            if pattern is not None:
                text = pattern.sub(substitute, text)
            if "://" in text:
                text = _URL_PASSWORD.sub(rf"\g<head>{substitute}@", text)
            return _KEYED_PASSWORD.sub(lambda match: _keyed(match, substitute), text)

        return hide

    def cleansed(self, value: Any, hide: Callable[[str], str]) -> Any:
        """``value`` with every password replaced: plain containers rebuilt (values at
        password-named keys replaced), any other object shown by its cleansed repr."""
        return _Cleanser(hide, self.cleansed_substitute).value(value, depth=0)

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> Any:
        hide = self.hider()
        shown = []
        for name, value in super().get_traceback_frame_variables(request, tb_frame):
            hidden = SECRET_NAME.search(name)  # a variable named password, passwd, passwords...
            shown.append((name, self.cleansed_substitute if hidden else self.cleansed(value, hide)))
        return shown

    def get_safe_settings(self) -> dict[str, Any]:
        return self._cleansed_items(super().get_safe_settings())

    def get_safe_request_meta(self, request: Any) -> dict[str, Any]:
        return self._cleansed_items(super().get_safe_request_meta(request))

    def get_safe_cookies(self, request: Any) -> dict[str, Any]:
        return self._cleansed_items(super().get_safe_cookies(request))

    def _cleansed_items(self, items: Mapping[str, Any]) -> dict[str, Any]:
        hide = self.hider()
        return {key: self.cleansed(value, hide) for key, value in items.items()}


def _keyed(match: re.Match[str], substitute: str) -> str:
    value = match["value"]
    quote_mark = value[0] if value[0] in "'\"" else ""
    return f"{match['head']}{quote_mark}{substitute}{quote_mark}"


class _Cleanser:
    """One value's walk: ``hide`` on every text, password-named keys' values replaced."""

    def __init__(self, hide: Callable[[str], str], substitute: str) -> None:
        self.hide = hide
        self.substitute = substitute
        self.open: set[int] = set()  # containers being walked: a cycle is shown, not followed

    def value(self, value: Any, depth: int) -> Any:
        kind = type(value)
        if kind is str:
            return self.hide(value)
        if kind in _PLAIN:
            return value
        if (kind is dict or kind in _CONTAINERS) and depth < _MAX_DEPTH:
            if id(value) in self.open:
                return _Shown(f"<Recursion on {kind.__name__} with id={id(value)}>")
            self.open.add(id(value))
            try:
                return self._container(value, depth + 1)
            finally:
                self.open.discard(id(value))
        return _Shown(self.hide(_repr(value)))

    def _container(self, value: Any, depth: int) -> Any:
        if type(value) is dict:
            return {
                self.value(key, depth): self.substitute
                if isinstance(key, str) and SECRET_NAME.search(key)
                else self.value(item, depth)
                for key, item in value.items()
            }
        items: Iterable[Any] = (self.value(item, depth) for item in value)
        return type(value)(items)


def _repr(value: Any) -> str:
    """What Django's ``pprint`` filter shows of ``value``."""
    try:
        return pformat(value)
    except Exception as error:  # as Django's pprint: a broken repr must not break the report
        return f"Error in formatting: {error.__class__.__name__}: {error}"
