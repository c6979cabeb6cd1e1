"""A rendered mail as MIME bytes: encoded headers, UTF-8 or ISO-2022-JP body, no way to inject a header."""
from __future__ import annotations

import base64
import re
import secrets
import time
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import SMTP, compat32
from email.utils import format_datetime

from tsunagi.common import clock
from tsunagi.common.jcodec import encode_iso2022jp

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                     r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+")


class BadAddress(ValueError):
    """A recipient that cannot be sent to; the mail is rejected with this reason."""


@dataclass
class Outgoing:
    subject: str
    text: str
    html: str | None
    from_name: str
    from_addr: str
    to: str
    reply_to: str = ""
    bcc: str = ""
    charset: str = "utf-8"        # or "iso-2022-jp" for old mail clients


def one_line(value: str) -> str:
    """A header value: every control character (CR, LF, NUL, …) becomes a space."""
    return _CONTROL.sub(" ", value).strip()


def check_address(value: str) -> str:
    address = value.strip()
    if _CONTROL.search(value.strip()) or not ADDRESS.fullmatch(address) or ".." in address:
        raise BadAddress(f"宛先のメールアドレスが正しくありません: {value!r}")
    return address


def message_id(domain: str) -> str:
    return f"<{time.strftime('%Y%m%d%H%M%S')}.{secrets.token_hex(8)}@{domain}>"


def _jis_word(value: str) -> str:
    return f"=?ISO-2022-JP?B?{base64.b64encode(encode_iso2022jp(value)).decode()}?="


def build(mail: Outgoing, msg_id: str) -> tuple[bytes, str]:
    """(the message as bytes for SMTP, the charset used). ISO-2022-JP falls back to UTF-8 for a mail
    whose text it cannot carry (a character outside CP932), rather than lose a character."""
    to = check_address(mail.to)
    charset = mail.charset
    if charset == "iso-2022-jp":
        try:
            for part in (mail.subject, mail.text, mail.from_name):
                encode_iso2022jp(part)
        except UnicodeEncodeError:
            charset = "utf-8"
    if charset == "iso-2022-jp":
        return _build_jis(mail, to, msg_id), charset
    msg = EmailMessage(policy=SMTP)
    msg["Date"] = format_datetime(clock.now())       # JST: +0900
    msg["Message-ID"] = msg_id
    msg["MIME-Version"] = "1.0"
    msg["From"] = Address(display_name=one_line(mail.from_name), addr_spec=check_address(mail.from_addr))
    msg["Subject"] = one_line(mail.subject)
    msg["To"] = to
    if mail.reply_to:
        msg["Reply-To"] = check_address(mail.reply_to)
    msg.set_content(mail.text.replace("\r\n", "\n"), charset="utf-8", cte="base64")
    if mail.html is not None:
        msg.add_alternative(mail.html, subtype="html", charset="utf-8", cte="base64")
    return msg.as_bytes(), charset


def _build_jis(mail: Outgoing, to: str, msg_id: str) -> bytes:
    """ISO-2022-JP (CP50220) text and headers, as old Japanese mail clients want; with the legacy
    email API, which keeps our encoded words as they are (the modern one re-encodes them as UTF-8)."""
    text = MIMEText("", "plain")
    text.set_payload(encode_iso2022jp(mail.text.replace("\r\n", "\n").replace("\n", "\r\n")).decode("ascii"))
    text.replace_header("Content-Type", 'text/plain; charset="ISO-2022-JP"')
    text.replace_header("Content-Transfer-Encoding", "7bit")
    if mail.html is None:
        msg = text
    else:
        msg = MIMEMultipart("alternative")
        msg.attach(text)
        msg.attach(MIMEText(mail.html, "html", "utf-8"))
    msg["Date"] = format_datetime(clock.now())       # JST: +0900
    msg["Message-ID"] = msg_id
    msg["From"] = f"{_jis_word(one_line(mail.from_name))} <{check_address(mail.from_addr)}>"
    msg["Subject"] = _jis_word(one_line(mail.subject))
    msg["To"] = to
    if mail.reply_to:
        msg["Reply-To"] = check_address(mail.reply_to)
    return msg.as_bytes(policy=compat32.clone(linesep="\r\n"))
