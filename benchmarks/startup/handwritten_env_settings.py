"""The hand-written settings that still read the database URL through the project's own
pydantic-settings loader (what typed env loading costs without django_cfg)."""

from api.environment import env  # the project's loader: pydantic + pydantic-settings
from handwritten_settings import *  # noqa: F403

assert env.database.url.startswith("sqlite")
