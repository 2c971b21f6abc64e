"""Issue 23 point 5, variant 2: floor_handwritten.py plus the floor of any pydantic-typed
configuration: import pydantic and define (and validate) one model."""

from floor_handwritten import *  # noqa: F403
from pydantic import BaseModel


class Database(BaseModel):
    url: str
    conn_max_age: int = 0


assert Database(url="sqlite:///db/default.sqlite3").conn_max_age == 0
