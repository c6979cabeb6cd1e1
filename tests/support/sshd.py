"""A real OpenSSH server for the tests: its own host key, user key and sftp subsystem, on loopback;
and a TCP relay in front of it that can cut a connection part-way through a transfer."""
from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from tests.support.net import free_port

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def keygen(path: Path) -> str:
    """A new ed25519 key pair at path (no passphrase); returns the public key line."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path.with_suffix(".pub").read_text().strip()


class SshServer:
    """sshd -D on 127.0.0.1 and a free port, taking only this user's key; started and stopped by the fixture."""

    def __init__(self, root: Path):
        if not Path(SSHD).exists() or not shutil.which("ssh-keygen"):
            raise RuntimeError("the SFTP tests need OpenSSH: apt-get install openssh-server (.ci/run does)")
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.host_key = root / "host_ed25519"
        self.host_pub = keygen(self.host_key)
        self.user_key = root / "user_ed25519"
        (root / "authorized_keys").write_text(keygen(self.user_key) + "\n")
        os.chmod(root / "authorized_keys", 0o600)
        self.user = getpass.getuser()
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)   # privilege separation dir

    def config(self) -> Path:
        path = self.root / "sshd_config"
        path.write_text(f"""Port {self.port}
ListenAddress 127.0.0.1
HostKey {self.host_key}
PidFile {self.root}/sshd.pid
AuthorizedKeysFile {self.root}/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
LogLevel ERROR
""")
        return path

    def start(self) -> None:
        with open(self.root / "sshd.log", "ab") as log:
            self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config())], stderr=log,
                                         start_new_session=True)
        end = time.time() + 10
        while time.time() < end:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"sshd exited: {(self.root / 'sshd.log').read_text()}")
                time.sleep(0.05)
        raise RuntimeError("sshd did not start listening")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)

    def known_hosts(self, path: Path, port: int | None = None, key: str | None = None) -> Path:
        entry = f"[127.0.0.1]:{port or self.port} {' '.join((key or self.host_pub).split()[:2])}\n"
        path.write_text(entry)
        return path


class Relay:
    """127.0.0.1:port -> the server; cut_after(n) closes a connection once n bytes went the given way."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.limit: int | None = None
        self.direction = "down"        # "down": server -> client (a pull), "up": client -> server (a push)
        self.cut = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut_after(self, nbytes: int | None, direction: str = "down") -> None:
        self.limit, self.direction = nbytes, direction
        self.cut.clear()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            counter = {"n": 0}
            for src, dst, way in ((client, server, "up"), (server, client, "down")):
                threading.Thread(target=self._pump, args=(src, dst, way, counter, client, server), daemon=True).start()

    def _pump(self, src, dst, way, counter, *both) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
                if way == self.direction and self.limit is not None:
                    counter["n"] += len(data)
                    if counter["n"] >= self.limit:
                        self.cut.set()
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
