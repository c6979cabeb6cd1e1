"""A small authoritative DNS server on loopback (UDP) answering TXT questions from a dict: DKIM keys served
the way a real zone serves them, so the daemon's resolver is tested over the wire."""
from __future__ import annotations

import socket
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


class TxtServer:
    def __init__(self, records: dict[str, bytes]):
        self.records = {name.rstrip(".").lower(): value for name, value in records.items()}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.asked: list[str] = []
        self.thread = threading.Thread(target=self._serve, name="test-dns", daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> TxtServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.sock.close()

    def _serve(self) -> None:
        while True:
            try:
                wire, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            try:
                self.sock.sendto(self._answer(dns.message.from_wire(wire)).to_wire(), peer)
            except OSError:      # closed while answering: the test is over
                return

    def _answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        self.asked.append(name)
        value = self.records.get(name)
        if value is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.TXT:
            # a long key is split into strings of at most 255 bytes, as zone files do
            chunks = " ".join('"' + value[i:i + 255].decode() + '"' for i in range(0, len(value), 255))
            response.answer.append(dns.rrset.from_text(question.name, 300, "IN", "TXT", chunks))
        return response


class Silent:
    """A UDP port on loopback that takes DNS questions and never answers: a server that is down."""

    def __enter__(self) -> str:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{self.sock.getsockname()[1]}"

    def __exit__(self, *exc) -> None:
        self.sock.close()
