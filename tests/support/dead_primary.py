"""A dead primary without stopping the shared one: the ``postgres`` alias pointed at a closed
port ("refused") or at a local socket that accepts and never answers ("hung"), then back.

Every thread's connection wrapper reads the one ``connections.settings`` entry, so changing
HOST/PORT there is what a DNS switch or a host going away looks like to the whole process.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections

CLOSED_PORT = 1
"""127.0.0.1:1: nothing listens there, a connection is refused at once."""


class BlackHole:
    """A TCP server on 127.0.0.1 that accepts connections and never sends a byte."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return  # closed
            self.accepted.append(client)  # held open, never answered

    def close(self) -> None:
        self.server.close()
        for client in self.accepted:
            client.close()


@contextmanager
def primary_at(port: int, alias: str = "postgres") -> Iterator[None]:
    """``alias`` connects to 127.0.0.1:``port`` inside the block (this thread's connections to
    it and to its replica are closed on the way in and out)."""
    entry = connections.settings[alias]
    saved = entry["HOST"], entry["PORT"]
    _close(alias)
    entry["HOST"], entry["PORT"] = "127.0.0.1", str(port)
    try:
        yield
    finally:
        entry["HOST"], entry["PORT"] = saved
        _close(alias)


@contextmanager
def primary_down(how: str, alias: str = "postgres") -> Iterator[None]:
    """``how``: "refused" (a closed port) or "hung" (accepts TCP, never answers)."""
    if how == "refused":
        with primary_at(CLOSED_PORT, alias):
            yield
        return
    hole = BlackHole()
    try:
        with primary_at(hole.port, alias):
            yield
    finally:
        hole.close()


def _close(alias: str) -> None:
    for name in (alias, "replica"):
        connections[name].close()
