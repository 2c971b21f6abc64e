"""Reader threads through an outage of a private standby (tests/support/private_standby.py): the
standby is shut down and started again while they read. Never the shared 5433: other test
sessions read from it, and a run killed during the outage would leave it down.

    with private_standby("app") as pair:
        run = read_through_outage(read, pair, readers=4, before=0.3, outage=1.0)
    run.errors                   # every read that raised
    run.back_on_standby()        # reader -> when it first read from the standby after the restart
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.support.private_standby import StandbyPair


@dataclass
class Read:
    started: float
    finished: float
    served_by: str | None  # "standby", "primary", or None: the read failed
    reader: int


@dataclass
class OutageRun:
    """What reader threads saw while the standby was stopped and started again."""

    stopping: float = 0.0  # monotonic times
    stopped: float = 0.0
    restarted: float = 0.0
    reads: list[Read] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    def back_on_standby(self) -> dict[int, float]:
        """Reader -> when its first read from the standby after the restart finished."""
        back: dict[int, float] = {}
        for read in list(self.reads):
            if read.started > self.restarted and read.served_by == "standby":
                back[read.reader] = min(back.get(read.reader, read.finished), read.finished)
        return back


def read_through_outage(
    read: Callable[[], str | None], pair: StandbyPair, readers: int, before: float, outage: float
) -> OutageRun:
    """``readers`` threads call ``read`` (each in a context of its own) in a loop; after
    ``before`` seconds ``pair``'s standby is stopped for ``outage`` seconds, then started, and
    the threads go on until every one of them has read from the standby again (60 s at most).
    ``read`` returns who served it; an exception it raises is a failed read."""
    from django.db import connections

    run = OutageRun()
    stop = threading.Event()

    def reader(number: int) -> None:
        try:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    served_by = read()
                except BaseException as error:  # every failed read is counted
                    run.errors.append(error)
                    served_by = None
                run.reads.append(Read(started, time.monotonic(), served_by, number))
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=contextvars.Context().run, args=(reader, n)) for n in range(readers)
    ]
    for thread in threads:
        thread.start()
    try:
        _outage(run, pair, before, outage)
        deadline = run.restarted + 60
        while time.monotonic() < deadline and len(run.back_on_standby()) < readers:
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    return run


def _outage(run: OutageRun, pair: StandbyPair, before: float, outage: float) -> None:
    """Stop the standby after ``before`` s, start it ``outage`` s later (also when the wait
    is interrupted: the readers and the pair's teardown find it running)."""
    time.sleep(before)
    run.stopping = time.monotonic()
    pair.stop_standby()
    run.stopped = time.monotonic()
    try:
        time.sleep(outage)
    finally:
        pair.start_standby()
        run.restarted = time.monotonic()
