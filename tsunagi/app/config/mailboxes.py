"""The [[imap]] table: mailboxes order mails are read from, for shops that cannot forward them to tsunagi."""
from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from tsunagi.app.config.fields import Name, OptionalFile
from tsunagi.app.config.partners import Scheduled

FLAG = re.compile(r"\\(Seen|Flagged|Answered)|[A-Za-z0-9$_.-]+", re.IGNORECASE)


class ImapEndpoint(Scheduled):
    name: Name = Field(description="names the mailbox in logs, alerts and `tsunagi imap run NAME`")
    host: str = Field(description="the IMAP server")
    port: int = Field(0, ge=0, lt=65536, description="its port; 0 = 993 with `security = \"tls\"`, 143 with "
                                                     "`\"starttls\"`")
    security: Literal["tls", "starttls"] = Field("tls", description="`tls` (implicit TLS, port 993) or `starttls`; "
                                                 "there is no clear-text mode, and the certificate is always verified")
    ca_file: OptionalFile = Field(None, description="a CA file for a server whose certificate a private CA signed "
                                  "(\"\" = the system's CAs); relative to the config file")
    user: str = Field(description="login name")
    password_env: str = Field(min_length=1, description="the environment variable holding the password (never "
                              "the password)")
    timeout: float = Field(30.0, gt=0, description="seconds to wait for the server")
    folder: str = Field("INBOX", min_length=1, description="the folder order mails are read from (non-ASCII names "
                        "as they are shown, e.g. `受注`)")
    into: str = Field(description="the shop whose order mails they are (a shop `id`)")
    every_minutes: float = Field(1.0, ge=0, description="read the folder every N minutes (0 = only at `at` times "
                                 "or by command)")
    after: Literal["move", "flag"] = Field("move", description="what happens to a mail once it is safe in the "
                                           "spool: `move` it to `processed_folder`, or `flag` it (and skip flagged "
                                           "mails)")
    processed_folder: str = Field("", description="where `move` puts it (required with `move`; it must exist)")
    flag: str = Field("$Tsunagi", description="the flag `after = \"flag\"` sets: a keyword of your own, or `\\Seen` "
                      "/ `\\Flagged` (in TOML `'\\Seen'`) where the server keeps no keywords")

    @field_validator("processed_folder")
    @classmethod
    def _moved_somewhere(cls, folder: str, info: ValidationInfo) -> str:
        if info.data.get("after") == "move" and not folder:
            raise ValueError("is required when after = \"move\"")
        if folder and folder == info.data.get("folder"):
            raise ValueError("must differ from folder (a moved mail would be read again)")
        return folder

    @field_validator("flag")
    @classmethod
    def _a_flag(cls, flag: str) -> str:
        if not FLAG.fullmatch(flag):
            raise ValueError(f"{flag!r} is neither a keyword (letters, digits, $ _ . -) nor \\Seen, \\Flagged, "
                             f"\\Answered")
        return flag
