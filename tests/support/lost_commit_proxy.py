"""A TCP proxy in front of a PostgreSQL server that loses the answer to one COMMIT.

    proxy = LostCommitProxy("127.0.0.1", 5432, database="app_b", after="CREATE TABLE")
    url = f"postgresql://postgres@127.0.0.1:{proxy.port}/app_b?sslmode=disable&gssencmode=disable"

On a connection to ``database``, once a simple-query message holding ``after`` and more than one
statement went through, the next ``COMMIT`` reaches the server, which commits; its answer never
comes back: the proxy cuts the connection (a commit whose outcome the client cannot know, as when
the network fails at that instant). Only once; every other connection and message passes as is.
Needs ``sslmode=disable`` (and ``gssencmode=disable``) in the client's URL: it reads the protocol.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time

__all__ = ["LostCommitProxy"]


class LostCommitProxy:
    def __init__(self, host: str, port: int, database: str, after: str) -> None:
        self.server = (host, port)
        self.database = database
        self.after = after
        self.fired = threading.Event()
        """Set once a COMMIT's answer was lost."""
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        server = socket.create_connection(self.server)
        try:
            startup = _read(client, 4)
            startup += _read(client, struct.unpack("!I", startup)[0] - 4)
            server.sendall(startup)
            ours = f"database\0{self.database}\0".encode() in startup
            cut = threading.Event()  # this connection's answers dropped
            threading.Thread(target=_pipe, args=(server, client, cut), daemon=True).start()
            armed = False
            while True:
                message = _read(client, 5)
                message += _read(client, struct.unpack("!I", message[1:])[0] - 4)
                text = message[5:].rstrip(b"\0").decode(errors="replace")
                if ours and message[:1] == b"Q" and not self.fired.is_set():
                    if self.after in text and ";" in text.strip().rstrip(";"):
                        armed = True
                    elif armed and text.strip().upper() == "COMMIT":
                        self.fired.set()
                        cut.set()  # the answer goes nowhere
                        server.sendall(message)
                        time.sleep(0.5)  # the server commits
                        return
                server.sendall(message)
        except (EOFError, OSError):
            pass
        finally:
            client.close()
            server.close()


def _read(source: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = source.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def _pipe(source: socket.socket, target: socket.socket, cut: threading.Event) -> None:
    """What ``source`` sends, to ``target``, until ``cut`` is set."""
    try:
        while (chunk := source.recv(65536)) and not cut.is_set():
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_RDWR)
