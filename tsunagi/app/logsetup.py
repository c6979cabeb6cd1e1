"""Where the log goes and how a line reads: ISO 8601 time in JST, level, component, message; no secret ever."""
from __future__ import annotations

import base64
import binascii
import logging
import logging.handlers
import os
import re
import sys
import threading
from pathlib import Path

from tsunagi.common import clock

MASK = "********"
SECRET_NAMES = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|PASSPHRASE", re.IGNORECASE)
BASE64 = re.compile(r"[A-Za-z0-9+/]{8,}={0,2}")
# aiosmtpd's session trace: at INFO it logs every command line of every client (a client could fill the
# log with them), at DEBUG what an AUTH exchange decoded to. Kept at WARNING; an operator who asks for
# log.level = "DEBUG" gets the command lines (secrets masked), never aiosmtpd's own DEBUG.
SMTP_SESSION = "mail.log"


class LineFormatter(logging.Formatter):
    """`2026-11-30T10:15:02.123+09:00 INFO    pipeline: message` (the component is the logger's name
    without `tsunagi.`); the time is the one clock's, so a test's shifted clock shows here too."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)-7s %(component)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return clock.at(record.created).isoformat(timespec="milliseconds")

    def format(self, record: logging.LogRecord) -> str:
        record.component = record.name.removeprefix("tsunagi.")
        return super().format(record)


class SecretMask(logging.Filter):
    """Every known secret (and its base64, as SMTP AUTH sends it) becomes ******** in the message, its
    arguments and any traceback, before a handler writes the line."""

    def __init__(self, secrets: set[str]):
        super().__init__()
        self.secrets = sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True)
        self.forms = self.secrets + [base64.b64encode(s.encode()).decode().rstrip("=") for s in self.secrets]

    def mask(self, text: str) -> str:
        for form in self.forms:
            text = text.replace(form, MASK)
        return BASE64.sub(self._decoded, text)

    def _decoded(self, m: re.Match) -> str:
        """A base64 word that decodes to something holding a secret (AUTH PLAIN's \\0user\\0password)."""
        word = m.group(0)
        try:
            plain = base64.b64decode(word + "=" * (-len(word) % 4)).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return word
        return MASK if any(s in plain for s in self.secrets) else word

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:          # arguments that do not fit the message: the handler reports that itself
            return True
        record.msg, record.args = self.mask(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
        return True


def secrets_of(settings: dict, environ=os.environ) -> set[str]:
    """The values of the environment variables the config names for secrets (every `*_env` key: the relay's
    password, SFTP passwords, SMTP AUTH users'), and of any variable whose name says it holds one."""
    names: set[str] = set()

    def walk(value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key.endswith("_env") and isinstance(inner, str) and inner:
                    names.add(inner)
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)
    walk(settings)
    names |= {name for name in environ if SECRET_NAMES.search(name)}
    return {environ[n] for n in names if environ.get(n)}


def start(level: int = logging.WARNING) -> None:
    """A command's logging before its config is read: stderr, the house's line format. Like basicConfig,
    nothing is changed where logging was set up already (a program that calls main() itself)."""
    root = logging.getLogger()
    if any(not getattr(h, "tsunagi", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LineFormatter())
    _install(handler, level, secrets_of({}))


def configure(log, settings: dict) -> Path | None:
    """The daemon's logging as config.toml's [log] says; returns the log file, None for stderr."""
    if log.file:
        Path(log.file).parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            log.file, maxBytes=log.max_bytes, backupCount=log.keep, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LineFormatter())
    _install(handler, getattr(logging, log.level), secrets_of(settings))
    return Path(log.file) if log.file else None


def _install(handler: logging.Handler, level: int, secrets: set[str]) -> None:
    """handler in place of the one installed before (another program's handlers are left alone)."""
    handler.addFilter(SecretMask(secrets))
    handler.tsunagi = True
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "tsunagi", False)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger(SMTP_SESSION).setLevel(logging.INFO if level <= logging.DEBUG else logging.WARNING)
    threading.excepthook = _thread_stopped


def _thread_stopped(args: threading.ExceptHookArgs) -> None:
    """A thread that ended on an exception no one caught (a library's helper: paramiko's prefetch thread when a
    connection is cut, while the download itself reports the error) is one line of the log, masked like every
    line, instead of a traceback on stderr; the traceback is logged at DEBUG."""
    if args.exc_type is SystemExit:
        return
    log = logging.getLogger("tsunagi.thread")
    name = args.thread.name if args.thread else "?"
    log.warning("thread %s stopped: %s: %s", name, args.exc_type.__name__, args.exc_value)
    log.debug("thread %s: the traceback", name, exc_info=(args.exc_type, args.exc_value, args.exc_traceback))
