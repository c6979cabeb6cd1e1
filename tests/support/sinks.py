"""Real SMTP servers on loopback for outbound mail tests: a sink that keeps every message, one that
answers 451 a few times before 250, one that drops the connection after DATA, one that refuses."""
from __future__ import annotations

import datetime
import email
import ssl
import threading
from pathlib import Path
from email.policy import default

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.net import free_port


class Handler:
    """Keeps what it takes; mode "reject" refuses every recipient, "drop" hangs up after DATA."""

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

    def __init__(self, mode: str = "ok", tempfails: int = 0, tls: str = "", cert_dir=None,
                 login: tuple[str, str] | None = None):
        self.handler = Handler(mode, tempfails)
        self.port = free_port()
        kwargs = {}
        if login:                    # AUTH PLAIN/LOGIN required, over plain text: a loopback test relay
            kwargs = {"authenticator": Authenticator(*login), "auth_required": True, "auth_require_tls": False}
        if tls:                      # "starttls" (required before MAIL) or "tls" (implicit, from the start)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*self_signed(cert_dir))
            kwargs |= {"tls_context": context, "require_starttls": True} if tls == "starttls" \
                else {"ssl_context": context}
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **kwargs)

    def start(self) -> "Sink":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def messages(self):
        return self.handler.messages


class Authenticator:
    """Takes one user and password; every AUTH tried is counted."""

    def __init__(self, user: str, password: str):
        self.user, self.password, self.tries = user.encode(), password.encode(), []

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        self.tries.append(mechanism)
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (self.user, self.password)
        return AuthResult(success=ok, handled=False)


def self_signed(folder: Path) -> tuple[str, str]:
    """A certificate for 127.0.0.1 signed by itself: (cert file, key file); the cert is also the CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress
    cert_file, key_file = Path(folder) / "relay-cert.pem", Path(folder) / "relay-key.pem"
    if not cert_file.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                .sign(key, hashes.SHA256()))
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return str(cert_file), str(key_file)
