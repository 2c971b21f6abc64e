"""Handing a command's own output stream to a command it calls.

``call_command("migrate", stdout=self.stdout)`` wraps Django's OutputWrapper in another one,
which ends every partial write (``"Applying x..."`` then ``" OK"``) with a newline; this stream
passes writes through unchanged.
"""

from __future__ import annotations

import io

from django.core.management.base import OutputWrapper

__all__ = ["PassThrough"]


class PassThrough(io.TextIOBase):
    """A text stream that writes to ``wrapper`` exactly what it is given."""

    def __init__(self, wrapper: OutputWrapper) -> None:
        self._wrapper = wrapper

    def write(self, text: str) -> int:
        self._wrapper.write(text, ending="")
        return len(text)

    def flush(self) -> None:
        self._wrapper.flush()
