"""Typed project settings that produce Django's settings module.

    # api/config.py
    class MyDjangoConfig(DjangoConfig):
        project_apps = ["apps.blog", "apps.shop"]
        databases = {"default": DatabaseConfig.from_url(url=env.database.url)}
        if env.database.url_replica:
            databases["replica"] = DatabaseConfig.from_url(url=env.database.url_replica)

    config = MyDjangoConfig()

    # settings.py
    from api.config import config
    globals().update(config.get_all_settings())

Subclasses may override inherited fields without a type annotation, as above (plain pydantic
rejects that); the override is validated against the inherited field's type.
"""

from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from django_cfg.settings.base_dir import found_base_dir, project_base_dir
from django_cfg.settings.config_errors import defined_in, field_location, raise_invalid_settings
from django_cfg.settings.console_logging import LogLevel, console_logging
from django_cfg.settings.database_config import DatabaseConfig
from django_cfg.settings.development_key import DEVELOPMENT_KEY_PREFIX, development_secret_key
from django_cfg.settings.django_env import DEVELOPMENT_ENVIRONMENTS, current_environment
from django_cfg.settings.hidden_input import hidden_input_validator
from django_cfg.settings.model_on_use import ModelOnUse
from django_cfg.settings.production import fallback_database_problem
from django_cfg.settings.replica_names import with_replicas_by_name
from django_cfg.settings.replica_options import REPLICA_DEFAULTS
from django_cfg.settings.routers import ROUTER_PATH
from django_cfg.settings.tenant_names import (
    TENANT_ALIAS_PREFIX,
    TENANTS_MIDDLEWARE,
    TENANTS_ROUTER,
    TENANTS_SETTING,
)
from django_cfg.settings.url import DatabaseURLError

if TYPE_CHECKING:
    from django_cfg.settings.caches import CacheConfig
    from django_cfg.settings.email import EmailConfig
    from django_cfg.settings.tenants import TenantsConfig
else:  # defined at a project's first use of them, not at every startup (issue 23)
    CacheConfig = ModelOnUse["django_cfg.settings.caches.CacheConfig"]
    EmailConfig = ModelOnUse["django_cfg.settings.email.EmailConfig"]
    TenantsConfig = ModelOnUse["django_cfg.settings.tenants.TenantsConfig"]

__all__ = ["DjangoConfig"]

PINNING_MIDDLEWARE = "django_cfg.replicas.pinning.ReadYourWritesMiddleware"
HSTS_SECONDS = 31_536_000  # a year, the value Django's deployment checklist suggests

PASSWORD_VALIDATORS: list[dict[str, Any]] = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]
"""What ``startproject`` writes into AUTH_PASSWORD_VALIDATORS."""
MIN_SECRET_KEY_LENGTH = 50

CONTRIB_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES: list[dict[str, Any]] = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]


if TYPE_CHECKING:  # the name type checkers know pydantic's metaclass by
    from pydantic._internal._model_construction import ModelMetaclass
else:  # at run time, reached through the public BaseModel: no import of pydantic's internals
    ModelMetaclass = type(BaseModel)


class _PlainOverridesMetaclass(ModelMetaclass):
    """Lets ``databases = {...}`` in a subclass body override an inherited, annotated field.

    Pydantic requires every field override to carry an annotation; this metaclass supplies the
    inherited field's annotation for un-annotated overrides before pydantic builds the class.
    A secret field keeps its inherited annotation (``SecretStr | None``) even when the override
    annotates ``str``: the value is then validated into a ``SecretStr``, never shown.
    """

    def __new__(
        mcs,
        cls_name: str,
        bases: tuple[type[Any], ...],
        namespace: dict[str, Any],
        **kwargs: Any,
    ) -> type:
        annotations: dict[str, Any] = namespace.setdefault("__annotations__", {})
        for base in bases:
            for field_name, field in getattr(base, "__pydantic_fields__", {}).items():
                unannotated = field_name in namespace and field_name not in annotations
                secret = field_name in annotations and _is_secret(field.annotation)
                if unannotated or secret:
                    annotations[field_name] = field.annotation
        return super().__new__(mcs, cls_name, bases, namespace, **kwargs)


def _no_items() -> list[str]:
    """The list fields' ``default_factory``: a Python function, whose signature pydantic reads
    at once; ``list``'s text signature is parsed by ``tokenize``, whose regular expressions cost
    ~15M instructions to compile at every startup (issue 23)."""
    return []


def _or(value: bool | None, default: bool) -> bool:
    return default if value is None else value


def _default_debug(data: dict[str, Any]) -> bool:
    return data.get("environment") in DEVELOPMENT_ENVIRONMENTS


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or any(_is_secret(arg) for arg in get_args(annotation))


def _development_key_allowed(data: dict[str, Any]) -> bool:
    return bool(data.get("debug", True)) and (
        data.get("environment", "dev") in DEVELOPMENT_ENVIRONMENTS
    )


class DjangoConfig(BaseModel, metaclass=_PlainOverridesMetaclass):
    """A Django project's settings as typed fields; ``get_all_settings()`` renders them."""

    model_config = ConfigDict(
        validate_default=True,
        extra="forbid",
        hide_input_in_errors=True,
        defer_build=True,  # built once, for the project's subclass, not also for this base
    )
    _hide_input = hidden_input_validator()  # errors() and json() hold no input either

    project_name: str = "Django project"
    environment: str = Field(
        default_factory=current_environment,
        description="dev, test, staging, prod, ...: from DJANGO_ENV by default",
    )
    debug: bool = Field(
        default_factory=_default_debug,
        description="Defaults to True in the dev and test environments",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="None: the checkout's development key in development, an error otherwise; "
        "required (>= 50 characters) when debug is False",
    )
    allowed_hosts: list[str] = Field(default_factory=_no_items)

    contrib_apps: list[str] = Field(default_factory=lambda: list(CONTRIB_APPS))
    project_apps: list[str] = Field(default_factory=_no_items)

    databases: dict[str, DatabaseConfig]
    database_routers: list[str] = Field(default_factory=_no_items)
    tenants: TenantsConfig | None = Field(
        default=None, description="A database per tenant for some apps (docs/tenants.md)"
    )
    cross_database_relations: bool = Field(
        default=True,
        description="Allow ForeignKeys between models on different primaries (no DB constraint)",
    )
    replica_probe_interval: float = Field(
        default=REPLICA_DEFAULTS.probe_interval,
        gt=0,
        description="Seconds between replica lag probes (never per query)",
    )
    replica_retry_interval: float = Field(
        default=REPLICA_DEFAULTS.retry_interval,
        gt=0,
        description="Longest wait before retrying a replica that failed",
    )
    read_your_writes_seconds: float = Field(
        default=REPLICA_DEFAULTS.pin_seconds,
        gt=0,
        description="How long a write pins reads to the primary where the engine cannot tell "
        "when a replica has it (and the cookie's lifetime)",
    )
    replica_primary_reads: tuple[str, ...] = Field(
        default=REPLICA_DEFAULTS.primary_reads,
        description="App labels and model labels ('accounts.User') whose reads always go to the "
        "primary, however far a replica lags: logins and sessions (docs/replicas.md)",
    )

    base_dir: Path | None = Field(
        default=None, description="Project base directory; found from the subclass's package"
    )
    root_urlconf: str | None = None
    wsgi_application: str | None = None
    asgi_application: str | None = None
    middleware: list[str] = Field(default_factory=lambda: list(MIDDLEWARE))
    templates: list[dict[str, Any]] = Field(default_factory=lambda: [dict(t) for t in TEMPLATES])

    language_code: str = "en-us"
    time_zone: str = "UTC"
    use_i18n: bool = True
    use_tz: bool = True
    static_url: str = "static/"
    static_root: Path | None = None
    media_url: str = "media/"
    media_root: Path | None = None
    default_auto_field: str = "django.db.models.BigAutoField"

    password_validators: list[dict[str, Any]] = Field(
        default_factory=lambda: [dict(v) for v in PASSWORD_VALIDATORS],
        description="AUTH_PASSWORD_VALIDATORS; default: Django's startproject four",
    )
    caches: dict[str, CacheConfig] | None = Field(
        default=None,
        description="CACHES from cache URLs (redis://, memcached://, dbcache://, ...); None: "
        "Django's default (a per-process LocMemCache)",
    )
    email: EmailConfig | None = Field(
        default=None, description="EMAIL_* from an e-mail URL (smtp+tls://, console://, ...)"
    )
    logging: dict[str, Any] | None = Field(
        default=None, description="LOGGING (logging.config.dictConfig); None: Django's default"
    )
    log_level: LogLevel | None = Field(
        default=None,
        description="With logging unset: LOGGING that prints this level and above to the console",
    )
    secure_ssl_redirect: bool | None = Field(
        default=None, description="SECURE_SSL_REDIRECT; None: on when debug is False"
    )
    secure_proxy_ssl_header: tuple[str, str] | None = Field(
        default=None,
        description="Behind a proxy that ends TLS, e.g. ('HTTP_X_FORWARDED_PROTO', 'https')",
    )
    secure_hsts_seconds: int | None = Field(
        default=None, ge=0, description=f"None: {HSTS_SECONDS} when debug is False, else 0"
    )
    secure_hsts_include_subdomains: bool = False
    secure_hsts_preload: bool = False
    session_cookie_secure: bool | None = Field(default=None, description="None: not debug")
    csrf_cookie_secure: bool | None = Field(default=None, description="None: not debug")
    csrf_trusted_origins: list[str] = Field(default_factory=_no_items)

    exception_reporter_filter: str = Field(
        default="django_cfg.settings.error_reports.DatabasePasswordFilter",
        description="DEFAULT_EXCEPTION_REPORTER_FILTER: no database password in error reports; "
        "a filter of your own subclasses it (docs/configuration.md)",
    )
    extra_settings: dict[str, Any] = Field(
        default_factory=dict, description="Further settings by their Django name; applied last"
    )

    def __init__(self, **data: Any) -> None:
        cls = type(self)
        if not cls.__pydantic_complete__:  # defer_build: built now, with the caller's names (a
            # class defined in a function); pydantic's own deferred build would look one frame
            # short, in this __init__
            cls.model_rebuild(raise_errors=False, _parent_namespace_depth=3)
        try:
            super().__init__(**data)
        except ValidationError as error:  # one line per field, naming the class and its file
            raise_invalid_settings(error, defined_in(cls), where=field_location)

    # Checks are field validators, so that an error's input is that field alone and never
    # includes other fields' secrets.

    @field_validator("secret_key", mode="before")
    @classmethod
    def _blank_key_is_unset(cls, key: Any) -> Any:
        text = key.get_secret_value() if isinstance(key, SecretStr) else key
        return None if text == "" else key

    @field_validator("secret_key")
    @classmethod
    def _check_secret_key(cls, key: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if _development_key_allowed(info.data):
            return key  # None: the development key, set by _use_development_key
        value = key.get_secret_value() if key is not None else ""
        if not value:
            debug, environment = info.data.get("debug"), info.data.get("environment")
            where = "debug is False" if not debug else "outside the dev and test environments"
            raise ValueError(
                f"secret_key is required when {where} (environment {environment!r}, "
                f"debug={debug}). Set it from the environment, e.g. SECRET_KEY read by your "
                "loader and secret_key = env.secret_key; make one with: python -c 'from "
                "django.core.management.utils import get_random_secret_key; "
                "print(get_random_secret_key())'"
            )
        if value.startswith(DEVELOPMENT_KEY_PREFIX):
            raise ValueError(
                "secret_key is the development key, which must not be used with debug=False."
            )
        if len(value) < MIN_SECRET_KEY_LENGTH:
            raise ValueError(
                f"secret_key has {len(value)} characters; at least {MIN_SECRET_KEY_LENGTH} are "
                "required when debug is False."
            )
        return key

    @field_validator("databases")
    @classmethod
    def _check_databases(cls, databases: dict[str, DatabaseConfig]) -> dict[str, DatabaseConfig]:
        if "default" not in databases:
            raise ValueError(
                "databases must contain 'default' (Django's main alias); got "
                f"{', '.join(map(repr, databases)) or 'none'}. databases_from_urls(env.database) "
                "makes 'default' of the URL url (variable DATABASE__URL)."
            )
        # The specification's databases["replica"] declares no role: its name is the role.
        databases = with_replicas_by_name(databases)
        homes: dict[str, str] = {}
        for alias, database in databases.items():
            primary = database.replica_of
            if primary is not None:
                if primary not in databases or primary == alias:
                    raise ValueError(
                        f"databases[{alias!r}]: replica_of={primary!r} is not another configured "
                        f"alias; choose one of {', '.join(map(repr, databases))}."
                    )
                if databases[primary].replica_of is not None:
                    raise ValueError(
                        f"databases[{alias!r}]: replica_of={primary!r} is itself a replica; "
                        "point replicas at the primary."
                    )
            original = database.copy_of
            if original is not None and (
                original not in databases
                or original == alias
                or databases[original].replica_of is not None
                or databases[original].copy_of is not None
            ):
                primaries = [
                    repr(other)
                    for other, db in databases.items()
                    if other != alias and db.replica_of is None and db.copy_of is None
                ]
                raise ValueError(
                    f"databases[{alias!r}]: copy_of={original!r} is not another configured "
                    f"primary (a replica or a copy cannot be copied); choose one of "
                    f"{', '.join(primaries)}."
                )
            for app in database.apps:
                if app in homes:
                    raise ValueError(
                        f"app {app!r} is listed in apps of both databases[{homes[app]!r}] and "
                        f"databases[{alias!r}]; an app has one home database."
                    )
                homes[app] = alias
        return databases

    @field_validator("databases")
    @classmethod
    def _refuse_fallback_databases(
        cls, databases: dict[str, DatabaseConfig], info: ValidationInfo
    ) -> dict[str, DatabaseConfig]:
        problem = fallback_database_problem(databases, info.data.get("environment", "dev"))
        if problem:
            raise ValueError(problem)
        return databases

    @model_validator(mode="after")
    def _check_tenants(self) -> Self:
        if self.tenants is None:
            return self
        taken = [alias for alias in self.databases if alias.startswith(TENANT_ALIAS_PREFIX)]
        if taken:
            raise ValueError(
                f"databases {', '.join(map(repr, taken))}: aliases starting with "
                f"{TENANT_ALIAS_PREFIX!r} are the tenants' databases; rename them."
            )
        for alias, database in self.databases.items():
            shared = sorted(set(database.apps) & set(self.tenants.apps))
            if shared:
                raise ValueError(
                    f"app {shared[0]!r} is in tenants.apps and in apps of databases[{alias!r}]; "
                    "a tenant app lives in each tenant's database, not in a fixed one."
                )
        return self

    @model_validator(mode="after")
    def _use_development_key(self) -> Self:
        """An unset key in development: the checkout's key (see ``settings.development_key``)."""
        if self.secret_key is None:
            self.secret_key = SecretStr(development_secret_key(self._development_key_folder()))
        return self

    def _development_key_folder(self) -> Path | None:
        if self.base_dir is not None:
            return self.base_dir
        if type(self).__module__.partition(".")[0] == __name__.partition(".")[0]:
            return None  # DjangoConfig itself: no project folder, a per-process key
        return found_base_dir(type(self))

    @field_validator("caches", mode="before")
    @classmethod
    def _cache_urls(cls, caches: Any) -> Any:
        if not isinstance(caches, dict):
            return caches
        from django_cfg.settings.caches import CacheConfig

        return {
            alias: CacheConfig.from_url(cache) if isinstance(cache, str | SecretStr) else cache
            for alias, cache in caches.items()
        }

    @field_validator("caches")
    @classmethod
    def _check_caches(cls, caches: dict[str, CacheConfig] | None) -> dict[str, CacheConfig] | None:
        if caches is not None and "default" not in caches:
            raise ValueError(
                "caches must contain 'default' (Django's cache); got "
                f"{', '.join(map(repr, caches)) or 'none'}."
            )
        return caches

    @field_validator("email", mode="before")
    @classmethod
    def _email_url(cls, email: Any) -> Any:
        if not isinstance(email, str | SecretStr):
            return email
        from django_cfg.settings.email import EmailConfig

        return EmailConfig.from_url(email)

    @field_validator("logging")
    @classmethod
    def _check_logging(cls, logging: dict[str, Any] | None) -> dict[str, Any] | None:
        if logging is not None and logging.get("version") != 1:
            raise ValueError(
                "logging is a logging.config.dictConfig dict, which needs 'version': 1."
            )
        return logging

    @field_validator("extra_settings")
    @classmethod
    def _check_extra_settings(cls, extra: dict[str, Any]) -> dict[str, Any]:
        lower = sorted(name for name in extra if not name.isupper())
        if lower:
            raise ValueError(f"{', '.join(lower)} must be upper case, as Django settings are.")
        return extra

    @property
    def project_dir(self) -> Path:
        """``base_dir``, or else the folder holding the package that defines this config class."""
        return self.base_dir if self.base_dir is not None else project_base_dir(type(self))

    @property
    def installed_apps(self) -> list[str]:
        """Django's contrib apps, then ``django_cfg`` (and ``django_cfg.tenants`` with
        ``tenants``), then ``project_apps``, without repeats."""
        ours = ["django_cfg", *(["django_cfg.tenants"] if self.tenants is not None else [])]
        return list(dict.fromkeys([*self.contrib_apps, *ours, *self.project_apps]))

    @property
    def routing_rules(self) -> dict[str, str]:
        """``{app label: alias}`` from the ``apps`` of each database."""
        return {app: alias for alias, db in self.databases.items() for app in db.apps}

    @property
    def database_roles(self) -> dict[str, dict[str, Any]]:
        """DATABASE_ROLES: each alias's apps, primary (for replicas), weight and read-only flag."""
        return {
            alias: role
            for alias, database in self.databases.items()
            if (role := database.role_setting())
        }

    @property
    def has_replicas(self) -> bool:
        """A database, or every tenant's database (``tenants.replica_url``), has replicas."""
        return any(database.replica_of for database in self.databases.values()) or (
            self.tenants is not None and self.tenants.has_replicas
        )

    def get_middleware(self) -> list[str]:
        """``middleware``, plus the read-your-writes middleware when a replica is configured."""
        middleware = list(self.middleware)
        after_security = int(bool(middleware) and middleware[0].endswith("SecurityMiddleware"))
        if self.has_replicas and PINNING_MIDDLEWARE not in middleware:
            middleware.insert(after_security, PINNING_MIDDLEWARE)
        if self.tenants is not None and TENANTS_MIDDLEWARE not in middleware:
            middleware.insert(after_security, TENANTS_MIDDLEWARE)  # before any query
        return middleware

    def get_database_routers(self) -> list[str]:
        """The user's ``database_routers`` first, then the package's router (2+ databases);
        with tenants, the tenant router in front of it."""
        package = [ROUTER_PATH] if len(self.databases) > 1 else []
        if self.tenants is not None:
            package = [TENANTS_ROUTER, ROUTER_PATH]
        return [*self.database_routers, *(p for p in package if p not in self.database_routers)]

    def _django_databases(self, base_dir: Path) -> dict[str, dict[str, Any]]:
        databases: dict[str, dict[str, Any]] = {}
        for alias, database in self.databases.items():
            try:
                databases[alias] = database.to_django(base_dir=base_dir)
            except DatabaseURLError as error:  # e.g. a SQLite folder that cannot be created
                raise DatabaseURLError(f"databases[{alias!r}]: {error}") from error.__cause__
        return databases

    def _deployment_settings(self) -> dict[str, Any]:
        """Password validators, caches, e-mail, logging and the HTTPS settings."""
        production = not self.debug
        hsts = self.secure_hsts_seconds
        rendered: dict[str, Any] = {
            "AUTH_PASSWORD_VALIDATORS": [dict(v) for v in self.password_validators],
            "SECURE_SSL_REDIRECT": _or(self.secure_ssl_redirect, production),
            "SECURE_HSTS_SECONDS": hsts if hsts is not None else HSTS_SECONDS * production,
            "SECURE_HSTS_INCLUDE_SUBDOMAINS": self.secure_hsts_include_subdomains,
            "SECURE_HSTS_PRELOAD": self.secure_hsts_preload,
            "SESSION_COOKIE_SECURE": _or(self.session_cookie_secure, production),
            "CSRF_COOKIE_SECURE": _or(self.csrf_cookie_secure, production),
        }
        if self.secure_proxy_ssl_header is not None:
            rendered["SECURE_PROXY_SSL_HEADER"] = self.secure_proxy_ssl_header
        if self.csrf_trusted_origins:
            rendered["CSRF_TRUSTED_ORIGINS"] = list(self.csrf_trusted_origins)
        if self.caches is not None:
            rendered["CACHES"] = {alias: c.to_django() for alias, c in self.caches.items()}
        if self.email is not None:
            rendered.update(self.email.settings())
        if self.logging is not None:
            rendered["LOGGING"] = self.logging
        elif self.log_level is not None:
            rendered["LOGGING"] = console_logging(self.log_level)
        return rendered

    def get_all_settings(self) -> dict[str, Any]:
        """Every Django setting this configuration defines, by its Django name."""
        base_dir = self.project_dir
        settings: dict[str, Any] = {
            "BASE_DIR": base_dir,
            "DEBUG": self.debug,
            "SECRET_KEY": self.secret_key.get_secret_value() if self.secret_key else "",
            "ALLOWED_HOSTS": list(self.allowed_hosts),
            "INSTALLED_APPS": self.installed_apps,
            "MIDDLEWARE": self.get_middleware(),
            "TEMPLATES": [dict(template) for template in self.templates],
            "DATABASES": self._django_databases(base_dir),
            "DATABASE_ROUTERS": self.get_database_routers(),
            "LANGUAGE_CODE": self.language_code,
            "TIME_ZONE": self.time_zone,
            "USE_I18N": self.use_i18n,
            "USE_TZ": self.use_tz,
            "STATIC_URL": self.static_url,
            "MEDIA_URL": self.media_url,
            "DEFAULT_AUTO_FIELD": self.default_auto_field,
            "DEFAULT_EXCEPTION_REPORTER_FILTER": self.exception_reporter_filter,
        }
        optional = {
            "ROOT_URLCONF": self.root_urlconf,
            "WSGI_APPLICATION": self.wsgi_application,
            "ASGI_APPLICATION": self.asgi_application,
            "STATIC_ROOT": self.static_root,
            "MEDIA_ROOT": self.media_root,
        }
        settings.update({name: value for name, value in optional.items() if value is not None})
        settings.update(self._deployment_settings())
        if self.routing_rules:
            settings["DATABASE_ROUTING_RULES"] = self.routing_rules
        if self.database_roles:
            settings["DATABASE_ROLES"] = self.database_roles
        if not self.cross_database_relations:
            settings["DATABASE_CROSS_RELATIONS"] = False
        if self.tenants is not None:
            settings[TENANTS_SETTING] = self.tenants.setting()
        if self.has_replicas:
            settings["DATABASE_REPLICA_OPTIONS"] = {
                "probe_interval": self.replica_probe_interval,
                "retry_interval": self.replica_retry_interval,
                "pin_seconds": self.read_your_writes_seconds,
                "primary_reads": list(self.replica_primary_reads),
            }
        settings.update(self.extra_settings)
        return settings
