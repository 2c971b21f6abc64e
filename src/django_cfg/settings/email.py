"""Django's ``EMAIL_*`` settings from one URL, as django-environ's ``EMAIL_URL`` writes it.

    class MyDjangoConfig(DjangoConfig):
        email = EmailConfig.from_url(env.email_url)      # or the URL text itself

    smtp://user:pass@mail:25                  -> SMTP, no encryption (port 25 by default)
    smtp+tls://user%40example.com:pass@mail   -> SMTP with STARTTLS (EMAIL_USE_TLS, port 587)
    smtp+ssl://user:pass@mail                 -> SMTP over TLS (EMAIL_USE_SSL, port 465)
    console://                                -> printed, never sent (development)
    file:///var/mail/app                      -> written to files in that folder
    locmem://  dummy://                       -> kept in memory (tests) / dropped

An ``@`` in the user is written ``%40``. Query key: ``timeout`` (seconds). The password is a
``SecretStr`` (``repr``, ``str``, dumps and errors never show it; URL errors: ``settings.url``).
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import ConfigDict, Field, SecretStr, model_validator

from django_cfg.settings.config_errors import ConfigModel
from django_cfg.settings.hidden_input import hidden_input_validator
from django_cfg.settings.url import (
    DatabaseURLError,
    known_scheme,
    query_items,
    quoted_for_message,
    split_server_url,
)

__all__ = ["EMAIL_BACKENDS", "EmailConfig"]

_SMTP = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_BACKENDS: dict[str, str] = {
    "smtp": _SMTP,
    "smtp+tls": _SMTP,
    "smtp+ssl": _SMTP,
    "console": "django.core.mail.backends.console.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
    "dummy": "django.core.mail.backends.dummy.EmailBackend",
}
"""URL scheme -> Django EMAIL_BACKEND."""

_DEFAULT_PORTS = {"smtp": 25, "smtp+tls": 587, "smtp+ssl": 465}


class EmailConfig(ConfigModel):
    """Django's ``EMAIL_*`` settings; ``from_url`` reads an e-mail URL."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", hide_input_in_errors=True, defer_build=True
    )
    _hide_input = hidden_input_validator()

    backend: str = Field(default=_SMTP, min_length=1, description="EMAIL_BACKEND")
    host: str = "localhost"
    port: int = Field(default=25, ge=1, le=65535)
    user: str = ""
    password: SecretStr | None = None
    use_tls: bool = Field(default=False, description="STARTTLS (usually port 587)")
    use_ssl: bool = Field(default=False, description="Implicit TLS (usually port 465)")
    timeout: int | None = Field(default=None, gt=0, description="Seconds per SMTP operation")
    file_path: str | None = Field(default=None, description="Folder of the file backend")

    @model_validator(mode="after")
    def _tls_or_ssl(self) -> Self:
        if self.use_tls and self.use_ssl:
            raise ValueError(
                "use_tls (STARTTLS) and use_ssl (implicit TLS) exclude each other; choose one: "
                "smtp+tls:// (port 587) or smtp+ssl:// (port 465)."
            )
        return self

    @classmethod
    def from_url(cls, url: str | SecretStr, **fields: Any) -> Self:
        """``EmailConfig.from_url("smtp+tls://app:pw@mail.example.com")``; keyword fields win."""
        text = url.get_secret_value() if isinstance(url, SecretStr) else url
        if not isinstance(text, str):
            raise DatabaseURLError(f"an e-mail URL must be text, not {type(text).__name__}.")
        return cls(**{**_parse_email_url(text.strip()), **fields})

    @property
    def redacted_url(self) -> str:
        """``smtp+tls://app:***@mail:587``: for messages and logs."""
        if self.backend != _SMTP:
            scheme = next((k for k, v in EMAIL_BACKENDS.items() if v == self.backend), None)
            return f"{scheme}://{self.file_path or ''}" if scheme else self.backend
        scheme = "smtp+ssl" if self.use_ssl else "smtp+tls" if self.use_tls else "smtp"
        credentials = quoted_for_message(self.user) + (":***" if self.password else "")
        return f"{scheme}://{credentials + '@' if credentials else ''}{self.host}:{self.port}"

    def __str__(self) -> str:
        return self.redacted_url

    def settings(self) -> dict[str, Any]:
        """The ``EMAIL_*`` settings, password included (only here)."""
        rendered: dict[str, Any] = {"EMAIL_BACKEND": self.backend}
        if self.backend == _SMTP:
            rendered |= {
                "EMAIL_HOST": self.host,
                "EMAIL_PORT": self.port,
                "EMAIL_HOST_USER": self.user,
                "EMAIL_HOST_PASSWORD": self.password.get_secret_value() if self.password else "",
                "EMAIL_USE_TLS": self.use_tls,
                "EMAIL_USE_SSL": self.use_ssl,
                "EMAIL_TIMEOUT": self.timeout,
            }
        if self.file_path is not None:
            rendered["EMAIL_FILE_PATH"] = self.file_path
        return rendered


def _parse_email_url(url: str) -> dict[str, Any]:
    scheme, rest = known_scheme(url, EMAIL_BACKENDS, "e-mail")
    fields: dict[str, Any] = {"backend": EMAIL_BACKENDS[scheme]}
    if scheme not in _DEFAULT_PORTS:
        path, _, query = rest.partition("?")
        where = f"{scheme}://{quoted_for_message(path, '/:')}"
        if scheme == "file":
            if not path.startswith("/"):
                raise DatabaseURLError(f"{where}: write the folder absolute: file:///var/mail/app.")
            fields["file_path"] = path
        elif path.strip("/"):
            raise DatabaseURLError(f"{where}: a {scheme} e-mail URL has no host or path.")
        return fields | _email_query(query, where)
    server = split_server_url(scheme, rest, "an e-mail URL names one SMTP server.")
    if not server.host:
        raise DatabaseURLError(f"{server.where}: name the SMTP server, e.g. {scheme}://mail:587.")
    if server.path:
        raise DatabaseURLError(f"{server.where}: an SMTP URL has no path after the server.")
    fields |= {"host": server.host, "port": server.port or _DEFAULT_PORTS[scheme]}
    fields |= {
        "user": server.user,
        "use_tls": scheme == "smtp+tls",
        "use_ssl": scheme == "smtp+ssl",
    }
    if server.password is not None:
        fields["password"] = SecretStr(server.password)
    return fields | _email_query(server.query, server.where)


def _email_query(query: str, where: str) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for item in query_items(query, where):
        with item.converting():
            if item.key != "timeout":
                raise DatabaseURLError(
                    f"unknown option {item.shown_key} for an e-mail URL; known: timeout"
                )
            if not (item.value.isascii() and item.value.isdigit()):
                raise DatabaseURLError("option 'timeout' must be a whole number of seconds")
            fields["timeout"] = int(item.value)
    return fields
