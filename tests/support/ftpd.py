"""A real FTP / FTPS server for the tests (pyftpdlib) on loopback, with its own CA and certificate, and the
faults a channel's server shows: a connection cut mid-upload, a full disk, no rename, a file that vanishes."""
from __future__ import annotations

import datetime
import errno
import ipaddress
import sys
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.filesystems import AbstractedFS
from pyftpdlib.handlers import DTPHandler, FTPHandler, TLS_DTPHandler, TLS_FTPHandler
from pyftpdlib.log import logger
from pyftpdlib.servers import FTPServer

USER, PASSWORD = "shop", "correct horse"


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def make_ca(folder: Path, name: str = "tsunagi test CA") -> tuple[Path, ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A new certificate authority: its PEM at folder/<name>.pem (what ca_file names), its key and cert."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name)).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name.replace(' ', '-')}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path, key, cert


def server_certificate(folder: Path, ca_key, ca_cert) -> Path:
    """A certificate for 127.0.0.1 signed by the CA, with its key, in one PEM file (pyftpdlib's certfile)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name("127.0.0.1")).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    path = folder / "server.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()) + cert.public_bytes(serialization.Encoding.PEM))
    return path


class Faults:
    """What the server does wrong, set by a test: cut_upload_after bytes (the connection is cut, once),
    disk_free bytes (a write beyond them fails with ENOSPC), no_rename, vanish (names a file to delete
    just before it is downloaded), old_server (no SIZE nor MLSD), lose_rename_reply (the rename is done, its answer never arrives)."""

    def __init__(self):
        self.cut_upload_after: int | None = None
        self.cuts = 0
        self.disk_free: int | None = None
        self.no_rename = False
        self.lose_rename_reply = False      # rename, then drop the line before answering (once)
        self.old_server = False             # no SIZE and no MLSD (RFC 3659), as some still are
        self.vanish: set[str] = set()
        self.stored: list[str] = []          # every STOR's path, in order


class _FullDiskFile:
    def __init__(self, f, faults: Faults):
        self.f, self.faults = f, faults

    def write(self, data: bytes) -> int:
        if self.faults.disk_free is not None:
            if len(data) > self.faults.disk_free:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.faults.disk_free -= len(data)
        return self.f.write(data)

    def __getattr__(self, name):
        return getattr(self.f, name)


def _handlers(tls: str, faults: Faults, certfile: Path | None):
    """Handler classes of their own (pyftpdlib keeps settings on the class), carrying the faults."""
    dtp_base, ctl_base = (TLS_DTPHandler, TLS_FTPHandler) if tls else (DTPHandler, FTPHandler)

    class Fs(AbstractedFS):
        def open(self, filename, mode):
            if "r" in mode and Path(filename).name in faults.vanish:
                Path(filename).unlink(missing_ok=True)       # gone between the listing and the download
            f = super().open(filename, mode)
            return _FullDiskFile(f, faults) if "w" in mode or "a" in mode else f

    class Dtp(dtp_base):
        def handle_read_event(self):
            super().handle_read_event()
            limit = faults.cut_upload_after
            if limit is not None and self.tot_bytes_received >= limit:
                faults.cut_upload_after, faults.cuts = None, faults.cuts + 1
                self.cmd_channel.close()       # control and data connection gone, as a dropped line does
                self.close()

        def handle_error(self):
            error = sys.exc_info()[1]
            cause = error.__cause__ or error.__context__       # pyftpdlib 2.0 raises without `from`
            if isinstance(cause, OSError) and cause.errno == errno.ENOSPC:     # as vsftpd and ProFTPD answer it
                self._resp = ("452 Transfer aborted: No space left on device.", logger.warning)
                self.close()
                return
            super().handle_error()

    class Handler(ctl_base):
        dtp_handler = Dtp
        abstracted_fs = Fs
        banner = "tsunagi test ftpd"

        def ftp_STOR(self, file, mode="w"):
            faults.stored.append(self.fs.fs2ftp(file))
            return super().ftp_STOR(file, mode)

        def process_command(self, cmd, *args, **kwargs):
            if faults.old_server and cmd in ("SIZE", "MLSD", "MLST"):
                self.respond(f"502 Command '{cmd}' not implemented.")
                return
            return super().process_command(cmd, *args, **kwargs)

        def ftp_RNFR(self, path):
            if faults.no_rename:
                self.respond("502 Renaming is not allowed here.")
                return
            return super().ftp_RNFR(path)

        def ftp_RNTO(self, path):
            if faults.lose_rename_reply:
                faults.lose_rename_reply = False
                self.fs.rename(self._rnfr, path)
                self.close()
                return
            return super().ftp_RNTO(path)

    if tls:
        Handler.certfile = str(certfile)
        Handler.tls_control_required = Handler.tls_data_required = True
        if tls == "implicit":
            Handler.handle = _implicit_handle
            Handler.handle_ssl_established = _implicit_greeting
    return Handler


def _implicit_handle(self):
    """FTPS on its own port: TLS first, the greeting once it is up."""
    self.secure_connection(self.ssl_context)


def _implicit_greeting(self):
    if not getattr(self, "_greeted", False):
        self._greeted = True
        FTPHandler.handle(self)


class FtpServer:
    """pyftpdlib on 127.0.0.1 and a free port, serving root to USER/PASSWORD; mode "ftp", "ftps" (AUTH TLS
    required) or "ftps-implicit". Runs in a thread of the test process; stop() ends it."""

    def __init__(self, root: Path, certs: Path, mode: str = "ftp"):
        self.root, self.mode = root, mode
        root.mkdir(parents=True, exist_ok=True)
        self.ca_file, ca_key, ca_cert = make_ca(certs)
        certfile = server_certificate(certs, ca_key, ca_cert)
        self.faults = Faults()
        handler = _handlers({"ftp": "", "ftps": "explicit", "ftps-implicit": "implicit"}[mode], self.faults, certfile)
        authorizer = DummyAuthorizer()
        authorizer.add_user(USER, PASSWORD, str(root), perm="elradfmwMT")
        handler.authorizer = authorizer
        handler.passive_ports = None
        logger.setLevel("WARNING")          # not a line per command in every failing test's output
        self.server = FTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"timeout": 0.1, "handle_exit": False},
                                       daemon=True)
        self.thread.start()

    def endpoint(self, **extra) -> dict:
        """An [[endpoint]] table for this server (password in TSUNAGI_TEST_FTP_PASSWORD)."""
        table = {"name": "rms", "protocol": self.mode, "host": "127.0.0.1", "port": self.port, "user": USER,
                 "password_env": "TSUNAGI_TEST_FTP_PASSWORD", "timeout": 10}
        if self.mode != "ftp":
            table["ca_file"] = str(self.ca_file)
        return table | extra

    def stop(self) -> None:
        self.server.close_all()
        self.thread.join(timeout=5)
