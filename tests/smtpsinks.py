"""Real SMTP servers on loopback for outbound mail tests: a sink that keeps every message, one that
answers 451 a few times before 250, one that drops the connection after DATA, one that refuses."""
from __future__ import annotations

import email
import threading
from email.policy import default

from aiosmtpd.controller import Controller

from tests.sshserver import free_port


class Handler:
    def __init__(self, mode: str = "ok", tempfails: int = 0):
        self.mode = mode
        self.tempfails = tempfails
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.mode == "reject":
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.mode == "drop":
            with self.lock:
                self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
            server.transport.close()            # took it, and never said so
            return "250 OK"
        if self.tempfails > 0:
            self.tempfails -= 1
            return "451 4.3.0 try again later"
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 queued as 42"

    def parsed(self) -> list[email.message.EmailMessage]:
        with self.lock:
            return [email.message_from_bytes(raw, policy=default) for _, _, raw in self.messages]


class Sink:
    """An aiosmtpd server on 127.0.0.1 and a free port, started and stopped by the test."""

    def __init__(self, mode: str = "ok", tempfails: int = 0):
        self.handler = Handler(mode, tempfails)
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def start(self) -> "Sink":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def messages(self):
        return self.handler.messages
