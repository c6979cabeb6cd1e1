"""A line-at-a-time SMTP client on a raw socket, for what smtplib will not send: bad bytes, bare LFs, many sessions."""
from __future__ import annotations

import socket


class RawSession:
    """One connection; reply() reads one whole reply (its last line), said() everything answered so far."""

    def __init__(self, port: int, source: str = "127.0.0.1", timeout: float = 10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))
        self.buffer = b""
        self.replies: list[str] = []

    def send(self, line: bytes) -> None:
        self.sock.sendall(line)

    def command(self, line: bytes) -> str:
        """Sends line with CRLF and returns the reply (what the server said before closing, if it did)."""
        try:
            self.send(line + b"\r\n")
        except OSError:          # closed by the server: its last words are still to be read
            pass
        return self.reply()

    def reply(self) -> str:
        """The next reply's last line ('' when the server closed the connection without one)."""
        while True:
            line = self._line()
            if line is None:
                return ""
            self.replies.append(line)
            if line[3:4] != "-":
                return line

    def closed(self) -> bool:
        """Whether the server has closed the connection (nothing more to read)."""
        return self._line() is None

    def _line(self) -> str | None:
        while b"\r\n" not in self.buffer:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def close(self) -> None:
        self.sock.close()
