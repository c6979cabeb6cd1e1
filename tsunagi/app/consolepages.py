"""What the console's 取込, 出荷, 連携 and 設定 pages need of the spool, the outbox and the configuration
(app/console.py hands these to the Backend)."""
from __future__ import annotations

import email
import email.policy
import os
import re
import subprocess
import sys
from pathlib import Path

from tsunagi.app import logsetup, wiring
from tsunagi.app.config import Config
from tsunagi.common.errors import TsunagiError
from tsunagi.ingest.spool import Spool, new_id
from tsunagi.outbound import delivery, labels
from tsunagi.outbound import resync as resync_feeds

ITEM_ID = re.compile(r"[0-9]{8}T[0-9.]+-[0-9a-f]+")     # a spool id, nothing that walks a path
SECRET_WORDS = ("password", "secret", "token", "passphrase")
SHOWN_BYTES = 200_000          # of a raw mail or file: enough to read, not a page of megabytes


class NotThere(TsunagiError):
    """A spool item or outbox file that is not (or no longer) where the console looked."""


def spool_item(cfg: Config, item_id: str) -> dict | None:
    """An item wherever it is: its folder, meta, reason and its bytes decoded as text (shown, never rendered)."""
    found = Spool(cfg.spool_dir).find(item_id) if ITEM_ID.fullmatch(item_id) else None
    if found is None:
        return None
    item, reason = found
    data = item.data_path.read_bytes()[:SHOWN_BYTES]
    text = mail_text(data) if item.data_path.suffix == ".eml" else decoded(data)
    return {"id": item.id, "folder": str(item.folder.relative_to(cfg.spool_dir)), "meta": item.meta,
            "reason": reason, "text": text}


def mail_text(data: bytes) -> str:
    """A mail as a person reads it: its headers decoded, then each text part decoded (an HTML part as its
    source text), each under its content type."""
    try:
        msg = email.message_from_bytes(data, policy=email.policy.default)
        out = [f"{k}: {v}" for k, v in msg.items()]
        for part in msg.walk():
            if part.get_content_maintype() == "text":
                out += ["", f"----- {part.get_content_type()} -----", str(part.get_content())]
            elif not part.is_multipart():
                out += ["", f"----- {part.get_content_type()} {part.get_filename() or ''} (添付、表示しません) -----"]
        return "\n".join(out)
    except Exception:        # a mail broken past what the parser takes: its bytes as they came
        return decoded(data)


def decoded(data: bytes) -> str:
    """Mail or CSV bytes as text: UTF-8 when they are, else the Japanese encodings tried in turn."""
    for encoding in ("utf-8", "cp932", "euc_jp", "iso2022_jp"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", "replace")


def retry(cfg: Config, item_id: str) -> None:
    try:
        Spool(cfg.spool_dir).retry(item_id)
    except FileNotFoundError:
        raise NotThere(f"{item_id} は隔離されていません (no item in failed/)") from None


def dismiss(cfg: Config, item_id: str, by: str) -> None:
    """A quarantined item set aside for good: to done/ with a report saying who dismissed it."""
    spool = Spool(cfg.spool_dir)
    try:
        item = spool.load("failed", item_id)
    except FileNotFoundError:
        raise NotThere(f"{item_id} は隔離されていません (no item in failed/)") from None
    reason = next((r for r in spool.failed() if r.get("id") == item_id), {})
    spool.done(item, dict(reason, kind="dismissed", message=f"破棄 (操作: {by}): {reason.get('message', '')}"))
    (spool.dir("failed") / f"{item_id}.reason.json").unlink(missing_ok=True)


def drop(cfg: Config, target: str, name: str, data: bytes) -> str:
    """An uploaded file put in the target's drop folder (spool/drop/<target>/) under a temporary name and
    renamed whole, so the daemon takes it as it takes any dropped file."""
    if target not in cfg.drop_targets():
        raise NotThere(f"{target}: 取込先ではありません ({', '.join(sorted(cfg.drop_targets()))})")
    folder = Spool(cfg.spool_dir).dir("drop") / target
    folder.mkdir(parents=True, exist_ok=True)
    base = _file_name(name)
    final = folder / f"{new_id()}-{base}"
    part = folder / f".{final.name}.part"
    with open(part, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.rename(part, final)
    return final.name


def _file_name(name: str) -> str:
    """An uploaded file's name as the drop folder can hold it: its last part, printable, at most 60 characters
    with its extension kept (a file system takes 255 bytes; a Japanese character is 3, the id before it 30)."""
    base = "".join(ch for ch in Path(name).name if ch.isprintable()).lstrip(".~") or "upload.csv"
    if len(base) <= 60:
        return base
    stem, dot, ext = base.rpartition(".") if "." in base[-20:] else (base, "", "")
    return stem[:60 - len(dot + ext)] + dot + ext


def export_carrier(cfg: Config, store, carrier: str) -> list[str]:
    """As `tsunagi ship export CARRIER`: the label files written (paths under the outbox) and orders held."""
    outbox = Spool(cfg.spool_dir).dir("outbox")
    wiring.ready_orders(cfg, store, None)
    result = labels.export(store, outbox, cfg.carrier(carrier), cfg.layouts)
    return [str(p.relative_to(outbox)) for p in result.files] + [f"保留: {h}" for h in result.held]


def outbox_files(cfg: Config) -> list[dict]:
    """Every file in outbox/<target>/ready|sent/, newest first: target, state, name, size, time."""
    out = []
    outbox = Spool(cfg.spool_dir).dir("outbox")
    for target in sorted(p for p in outbox.iterdir() if p.is_dir()):
        for state in ("ready", "sent"):
            folder = target / state
            for path in (folder.iterdir() if folder.is_dir() else ()):
                if path.is_file() and not path.name.startswith("."):
                    st = path.stat()
                    out.append({"target": target.name, "state": state, "name": path.name, "size": st.st_size,
                                "mtime": st.st_mtime})
    return sorted(out, key=lambda f: (-f["mtime"], f["target"], f["name"]))


def outbox_path(cfg: Config, target: str, state: str, name: str) -> Path:
    """The file, refused unless it lies inside outbox/<target>/<state>/."""
    try:
        folder = (Spool(cfg.spool_dir).dir("outbox") / target / state).resolve()
        path = (folder / name).resolve()
        found = state in ("ready", "sent") and path.is_relative_to(folder) and path.is_file()
    except (ValueError, OSError):        # a NUL byte, or a name longer than the file system takes: no file
        found = False
    if not found:
        raise NotThere(f"{target}/{state}/{name}: ありません")
    return path


def mark_sent(cfg: Config, store, target: str, name: str) -> int:
    """A file uploaded by hand: recorded sent by the person (as `tsunagi outbox mark-sent`), ready/ → sent/, and
    the orders it confirmed are closed. How many orders closed."""
    return delivery.mark_sent(store, outbox_path(cfg, target, "ready", name))


def resync(cfg: Config, store, shop: str) -> int:
    """`tsunagi feed resync --shop SHOP`: every mapped SKU's figure written to the shop's stock file now."""
    writer = wiring.feed_writer(cfg, Spool(cfg.spool_dir), store)
    return resync_feeds.resync(writer, [shop]).get(shop, 0)


def shown_config(cfg: Config) -> dict:
    """The effective configuration, defaults filled in, every secret masked (as logs mask them)."""
    settings = cfg.file.model_dump(mode="json")
    mask = logsetup.SecretMask(logsetup.secrets_of(settings))
    return _masked(settings, mask)


def _masked(value, mask):
    if isinstance(value, dict):
        return {k: logsetup.MASK if any(w in k.lower() for w in SECRET_WORDS) and not k.endswith("_env") and value[k]
                else _masked(v, mask) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, mask) for v in value]
    return mask.mask(value) if isinstance(value, str) else value


def check(cfg: Config) -> tuple[int, str]:
    """`tsunagi check`'s exit status and what it printed, run as its own process (it prints; the daemon's
    output stays its own)."""
    done = subprocess.run([sys.executable, "-m", "tsunagi", "-c", str(cfg.path), "check"], capture_output=True,
                          text=True, timeout=120, env=os.environ.copy())
    return done.returncode, (done.stdout + done.stderr).strip()

