"""A real Dovecot IMAP server for the tests: its own config, TLS certificate (signed by a CA the test makes),
passwd-file users (made up front) and maildirs, on loopback; and a TCP relay in front of it that can cut or stall
a connection."""
from __future__ import annotations

import datetime
import getpass
import imaplib
import ipaddress
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.net import free_port
from tsunagi.common.imap import quoted

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USERS = 500
JA_USER, JA_PASSWORD = "shop-ja", "受注パスワード"       # not ASCII: LOGIN cannot carry it, AUTHENTICATE PLAIN can
PASSWORD = 's3cret "quoted" \\ pass'   # LOGIN quotes it


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_ca(folder: Path, name: str = "tsunagi test CA") -> tuple[Path, ec.EllipticCurvePrivateKey, x509.Name]:
    """A CA of the test's own: (its certificate file, its key, its name)."""
    key, subject = _key(), x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    path = folder / f"{name.replace(' ', '-')}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path, key, subject


def server_cert(folder: Path, ca_key, ca_name: x509.Name) -> tuple[Path, Path]:
    """cert.pem (for localhost and 127.0.0.1, signed by the CA) and key.pem."""
    key = _key()
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(_pem(key))
    key_path.chmod(0o600)
    return cert_path, key_path


class ImapServer:
    """dovecot -F on 127.0.0.1: IMAP with STARTTLS on `port`, implicit TLS on `tls_port`; one passwd-file user
    whose maildir is under root/mail. Started and stopped by the fixture; kill() and start() for the tests that
    take it down mid-run."""

    def __init__(self, root: Path):
        if not Path(DOVECOT).exists():
            raise RuntimeError("the IMAP tests need Dovecot: apt-get install dovecot-imapd (.ci/run does)")
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o755)         # Dovecot's unprivileged processes look inside
        self.ca_file, ca_key, ca_name = make_ca(root)
        self.cert, self.key = server_cert(root, ca_key, ca_name)
        # Users made up front: Dovecot looks at a changed passwd-file at most once a second.
        users = [f"shop{n:03d}:{{PLAIN}}{PASSWORD}::::::\n" for n in range(1, USERS + 1)]
        users.append(f"{JA_USER}:{{PLAIN}}{JA_PASSWORD}::::::\n")
        (root / "passwd").write_text("".join(users), encoding="utf-8")
        # Dovecot's auth process (user dovecot) reads it: whatever umask an in-process `tsunagi` main() left (027)
        (root / "passwd").chmod(0o644)
        self.handed_out = 0
        self.mail = root / "mail"
        self.mail.mkdir(exist_ok=True)
        self.uid, self.gid = (os.getuid(), os.getgid()) if os.geteuid() else _nobody()
        os.chown(self.mail, self.uid, self.gid)     # Dovecot never opens mail as root
        self.port, self.tls_port = free_port(), free_port()
        self.proc: subprocess.Popen | None = None

    def config(self) -> Path:
        uid, gid = self.uid, self.gid
        privileged = os.geteuid() == 0
        path = self.root / "dovecot.conf"
        path.write_text(f"""# written by tests/support/imapd.py
base_dir = {self.root}/run
state_dir = {self.root}/state
instance_name = tsunagi-test-{self.port}
log_path = {self.root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{self.cert}
ssl_key = <{self.key}
disable_plaintext_auth = yes
auth_mechanisms = plain login
default_internal_user = {"dovecot" if privileged else _me()}
default_login_user = {"dovenull" if privileged else _me()}
first_valid_uid = {uid}
last_valid_uid = 0
mail_location = maildir:{self.mail}/%u
mail_privileged_group =
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={self.mail}/%u
}}
service imap-login {{
  {"" if privileged else "chroot ="}
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
    ssl = yes
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
""", encoding="utf-8")
        return path

    def start(self) -> None:
        with open(self.root / "dovecot.stderr", "ab") as err:
            self.proc = subprocess.Popen([DOVECOT, "-F", "-c", str(self.config())], stderr=err, stdout=err,
                                         start_new_session=True)
        end = time.time() + 30
        while time.time() < end:       # ready once it greets over TLS (listening alone is not enough)
            try:
                imaplib.IMAP4_SSL("127.0.0.1", self.tls_port, timeout=2,
                                  ssl_context=ssl.create_default_context(cafile=str(self.ca_file))).logout()
                return
            except (OSError, imaplib.IMAP4.error):
                if self.proc.poll() is not None:
                    raise RuntimeError(f"dovecot exited: {self._log()}")
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not start: {self._log()}")

    def _log(self) -> str:
        return "".join(p.read_text(errors="replace") for p in (self.root / "dovecot.stderr",
                                                                 self.root / "dovecot.log") if p.exists())

    def kill(self) -> None:
        """SIGKILL the whole server (master, login and imap processes): connections drop mid-command."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def mailbox(self) -> Mailbox:
        """A user of its own with an empty mailbox, for one test."""
        self.handed_out += 1
        return Mailbox(self, f"shop{self.handed_out:03d}", PASSWORD)


LIST_LINE = re.compile(rb'\((?P<flags>[^)]*)\) (?:NIL|"(?:[^"\\]|\\.)*") "?(?P<name>.*?)"?$')


class Mailbox:
    """One user's mailbox as the shop's mail client sees it (a real IMAP client, verified against the test CA)."""

    def __init__(self, server: ImapServer, user: str, password: str):
        self.server, self.user, self.password = server, user, password

    def client(self) -> imaplib.IMAP4_SSL:
        conn = imaplib.IMAP4_SSL("127.0.0.1", self.server.tls_port, timeout=30,
                                 ssl_context=ssl.create_default_context(cafile=str(self.server.ca_file)))
        conn.login(self.user, self.password)
        return conn

    def deliver(self, folder: str, *mails: bytes) -> None:
        """Mails put into a folder (created if need be), as the shop's mail rules file them."""
        with _session(self) as conn:
            conn.create(quoted(folder))
            for raw in mails:
                typ, data = conn.append(quoted(folder), None, None, raw)
                assert typ == "OK", data

    def folders(self) -> set[str]:
        with _session(self) as conn:
            return {LIST_LINE.match(line).group("name").decode() for line in conn.list()[1]}

    def uids(self, folder: str, criteria: str = "ALL") -> list[int]:
        """The UIDs of the mails a folder holds (that match the criteria); none for a folder not there."""
        with _session(self) as conn:
            typ, _ = conn.select(quoted(folder), readonly=True)
            if typ != "OK":
                return []
            return [int(u) for u in conn.uid("SEARCH", criteria)[1][0].split()]

    def count(self, folder: str, criteria: str = "ALL") -> int:
        return len(self.uids(folder, criteria))


class _session:
    def __init__(self, mailbox: Mailbox):
        self.conn = mailbox.client()

    def __enter__(self) -> imaplib.IMAP4_SSL:
        return self.conn

    def __exit__(self, *exc) -> None:
        try:
            self.conn.logout()
        except (OSError, imaplib.IMAP4.error):
            pass


def _nobody() -> tuple[int, int]:
    entry = pwd.getpwnam("nobody")
    return entry.pw_uid, entry.pw_gid


def _me() -> str:
    return getpass.getuser()


class Relay:
    """127.0.0.1:port -> the server. cut_after(n): a connection is closed once n bytes came down from the server
    (then on_cut runs, e.g. to kill the server). stall_up_after(n): once n bytes came down, nothing the client
    sends goes up any more (its next command hangs: a daemon can be killed between two commands)."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.limit: int | None = None
        self.mode = "cut"
        self.on_cut = lambda: None
        self.tripped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut_after(self, nbytes: int | None, on_cut=lambda: None) -> None:
        self.limit, self.mode, self.on_cut = nbytes, "cut", on_cut
        self.tripped.clear()

    def stall_up_after(self, nbytes: int | None) -> None:
        self.limit, self.mode = nbytes, "stall"
        self.tripped.clear()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            state = {"down": 0, "stalled": False}
            for src, dst, way in ((client, server, "up"), (server, client, "down")):
                threading.Thread(target=self._pump, args=(src, dst, way, state, client, server), daemon=True).start()

    def _pump(self, src, dst, way, state, *both) -> None:
        try:
            while data := src.recv(65536):
                if way == "up" and state["stalled"]:
                    continue           # swallowed: the server never hears it
                dst.sendall(data)
                if way == "down" and self.limit is not None:
                    state["down"] += len(data)
                    if state["down"] >= self.limit and not state["stalled"]:
                        self.tripped.set()
                        if self.mode == "stall":
                            state["stalled"] = True
                            continue
                        self.on_cut()
                        break
        except OSError:
            pass
        for s in both:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self.listener.close()
