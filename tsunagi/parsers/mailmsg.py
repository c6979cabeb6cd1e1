"""From raw mail bytes to a MailView: decoded subject, sender and body text, forwards unwrapped."""
from __future__ import annotations

import email
import email.header
import email.utils
import html
from dataclasses import dataclass, field
from email.message import Message
from functools import lru_cache

from tsunagi.parsers import linear

from tsunagi.common.jcodec import decode_bytes


def decode_header(value: str | None) -> str:
    """RFC 2047 words decoded with the same charset rules as bodies."""
    if not value:
        return ""
    text = str(value)
    return _decode_words(text) if "=?" in text else text     # no encoded word: the text as it is


@lru_cache(maxsize=4096)
def _decode_words(text: str) -> str:
    """Kept: a cart's From, To and Subject words come back mail after mail (a replay reads thousands)."""
    parts = []
    try:
        chunks = email.header.decode_header(text)
    except Exception:  # a malformed encoded word: keep the raw text
        return text
    for chunk, charset in chunks:
        parts.append(decode_bytes(chunk, charset) if isinstance(chunk, bytes) else chunk)
    return "".join(parts)


_HIDDEN = linear.compile(r"(?s)<script\b.*?</script>|<style\b.*?</style>|<head\b.*?</head>", ignorecase=True)
_BREAK = linear.compile(r"<br\s*/?>|</(p|div|tr|li|h\d|table)>", ignorecase=True)
_TAG = linear.compile(r"(?s)<[^>]+>")


def html_to_text(markup: str) -> str:
    markup = _HIDDEN.sub("", markup)
    markup = _BREAK.sub("\n", markup)
    return html.unescape(_TAG.sub("", markup))


@dataclass
class MailView:
    """What a spec reads: the original order mail, whether it came direct or forwarded."""
    subject: str
    sender: str              # the original sender's address, lower case
    date: str                # the Date header of the original, as written
    text: str                # decoded body text, CRLF folded to LF
    headers: dict[str, str] = field(default_factory=dict)  # of the outer mail
    forwarded: str = ""      # "", "attached" or "inline"
    defects: list[str] = field(default_factory=list)


def body_text(msg: Message) -> str:
    """The text/plain part, or HTML turned into text; attachments are passed over."""
    plain, markup = None, None
    for part in msg.walk():
        if part.is_multipart() or part.get_content_maintype() == "message":
            continue
        if (part.get_content_disposition() or "") == "attachment":
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain" and plain is None:
            plain = _part_text(part)
        elif ctype == "text/html" and markup is None:
            markup = _part_text(part)
    if plain is not None and plain.strip():
        return plain
    return html_to_text(markup) if markup else (plain or "")


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True) or b""
    return decode_bytes(payload, part.get_content_charset()).replace("\r\n", "\n")


def _attached_original(msg: Message) -> Message | None:
    for part in msg.walk():
        if part.get_content_type() == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner:
                return inner[0]
    return None


# Linear-time patterns (RE2): a body of a million blank lines or spaces costs what reading it costs.
_FWD_START = linear.compile(
    r"^[-= \t]*(?:Forwarded message|Original Message|転送メッセージ|転送されたメッセージ|元のメッセージ)[-= \t]*$"
    r"|^Begin forwarded message:[ \t]*$", ignorecase=True)
_FWD_HEADER = linear.compile(r"^\s*(From|差出人|送信者|Subject|件名|Date|日付|送信日時)\s*[:：]\s*(.*)$",
                             ignorecase=True)
_FWD_PREFIX = linear.compile(r"^\s*((fwd?|転送|fw)\s*[:：]\s*)+", ignorecase=True)


def _inline_forward(text: str) -> tuple[dict[str, str], str] | None:
    """An inline forward: the quoted header block after the marker, then the original body."""
    m = _FWD_START.search(text)
    if not m:
        return None
    lines = text[m.end():].lstrip("\n").split("\n")
    found: dict[str, str] = {}
    i = 0
    while i < len(lines) and (_FWD_HEADER.match(lines[i]) or (not found and not lines[i].strip())
                              or lines[i].startswith(("To:", "宛先:", "Cc:", "To：", "宛先："))):
        h = _FWD_HEADER.match(lines[i])
        if h:
            key = h.group(1).lower()
            key = {"差出人": "from", "送信者": "from", "件名": "subject", "日付": "date",
                   "送信日時": "date"}.get(key, key)
            found[key] = h.group(2).strip()
        i += 1
    if "subject" not in found and "from" not in found:
        return None
    body = "\n".join(line[1:].lstrip() if line.startswith(">") else line for line in lines[i:])
    return found, body


@lru_cache(maxsize=4096)
def address_of(value: str) -> str:
    """The address of a From value (kept: a cart writes the same From on every mail)."""
    return email.utils.parseaddr(value)[1].lower()


def read_mail(raw: bytes) -> MailView:
    # The standard library's parser alone: a wrapper that also extracted every part cost four fifths of a
    # mail's parsing time for nothing read here.
    outer = email.message_from_bytes(raw)
    headers = {k.lower(): decode_header(v) for k, v in outer.items()}
    defects = [f"{part.get_content_type()}: {type(d).__name__}" for part in outer.walk() for d in part.defects]
    inner = _attached_original(outer)
    if inner is not None:
        return MailView(subject=decode_header(inner.get("Subject")),
                        sender=address_of(decode_header(inner.get("From"))),
                        date=str(inner.get("Date") or ""), text=body_text(inner),
                        headers=headers, forwarded="attached", defects=defects)
    text = body_text(outer)
    subject = headers.get("subject", "")
    fwd = _inline_forward(text) if _FWD_PREFIX.match(subject) or _FWD_START.search(text) else None
    if fwd:
        found, body = fwd
        return MailView(subject=_FWD_PREFIX.sub("", found.get("subject", subject)),
                        sender=address_of(found.get("from", "")), date=found.get("date", ""),
                        text=body, headers=headers, forwarded="inline", defects=defects)
    return MailView(subject=_FWD_PREFIX.sub("", subject), sender=address_of(headers.get("from", "")),
                    date=headers.get("date", ""), text=text, headers=headers, defects=defects)
