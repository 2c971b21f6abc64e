"""What the commands print: a pass-through stream for the commands they call, and summaries
that stay readable at 1,000 databases.

    call_command("migrate", stdout=PassThrough(self.stdout))
    summary({"migrated": 3, "up to date": 995}, {"tenant_a": "OperationalError: ..."})
    # '3 migrated, 995 up to date, 1 failed:\n  tenant_a: OperationalError: ...'

``call_command("migrate", stdout=self.stdout)`` wraps Django's OutputWrapper in another one,
which ends every partial write (``"Applying x..."`` then ``" OK"``) with a newline;
``PassThrough`` passes writes through unchanged.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

from django.core.management.base import OutputWrapper

__all__ = ["PassThrough", "summary"]


class PassThrough(io.TextIOBase):
    """A text stream that writes to ``wrapper`` exactly what it is given."""

    def __init__(self, wrapper: OutputWrapper) -> None:
        self._wrapper = wrapper

    def write(self, text: str) -> int:
        self._wrapper.write(text, ending="")
        return len(text)

    def flush(self) -> None:
        self._wrapper.flush()


def summary(counts: Mapping[str, int], failures: Mapping[str, str]) -> str:
    """The count of each outcome, then one line per failure: never a list of the databases
    that went well.

        3 migrated, 995 up to date, 2 failed:
          tenant_a: OperationalError: ...
          tenant_b: OperationalError: ...
    """
    parts = [f"{count} {outcome}" for outcome, count in counts.items() if count]
    if not failures:
        return ", ".join(parts) + "."
    parts.append(f"{len(failures)} failed")
    return "\n".join(
        [", ".join(parts) + ":", *(f"  {alias}: {why}" for alias, why in failures.items())]
    )
