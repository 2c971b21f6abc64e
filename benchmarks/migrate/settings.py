"""The example project with a fourth database: sessions live on "analytics" (benchmark only)."""

from api.settings import *  # noqa: F403

DATABASE_ROUTING_RULES = {**DATABASE_ROUTING_RULES, "sessions": "analytics"}  # noqa: F405
