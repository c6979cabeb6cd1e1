"""The web console as tests use it: a daemon with [web] on loopback, its users, and an HTTP client that
behaves as a browser does (cookies kept, forms posted with the CSRF token the page gave)."""
from __future__ import annotations

import http.client
import os
import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from tests.support.configs import edit_config, shop
from tests.support.daemon import Running
from tests.support.sites import carrier, shipping

PASSWORD = "correct horse battery"
ROLES = {"admin": "admin", "staff": "operator", "guest": "viewer"}      # user name -> role
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


class Client:
    """One browser: its own cookies, real HTTP to the console's port."""

    def __init__(self, port: int, tls: ssl.SSLContext | None = None):
        self.port, self.tls = port, tls
        self.cookies: dict[str, str] = {}
        self.set_cookie_lines: list[str] = []

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> Answer:
        conn = (http.client.HTTPSConnection("127.0.0.1", self.port, timeout=30, context=self.tls) if self.tls
                else http.client.HTTPConnection("127.0.0.1", self.port, timeout=30))
        try:
            sent = dict(headers or {})
            if self.cookies:
                sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            conn.request(method, path, body=body, headers=sent)
            resp = conn.getresponse()
            text = resp.read().decode("utf-8", "replace")
            for line in resp.msg.get_all("set-cookie") or []:
                self.set_cookie_lines.append(line)
                name, _, rest = line.partition("=")
                value = rest.split(";", 1)[0].strip('"')
                if "max-age=0" in line.lower() or "expires=thu, 01 jan 1970" in line.lower():
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = value
            return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, text)
        finally:
            conn.close()

    def get(self, path: str, headers: dict | None = None) -> Answer:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, fields: dict | list, headers: dict | None = None) -> Answer:
        body = urlencode(fields, doseq=True).encode()
        return self.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded",
                                                 **(headers or {})})

    def follow(self, answer: Answer) -> Answer:
        """The page a 303 sends the browser to."""
        assert answer.status == 303, (answer.status, answer.text[:300])
        parts = urlsplit(answer.location)
        return self.get(parts.path + (f"?{parts.query}" if parts.query else ""))

    def csrf(self, path: str) -> str:
        """The CSRF token of the forms on that page."""
        page = self.get(path)
        assert page.status == 200, (page.status, page.text[:300])
        return CSRF.search(page.text).group(1)

    def login(self, name: str, password: str = PASSWORD) -> Answer:
        token = self.csrf("/login")
        return self.post("/login", {"csrf": token, "name": name, "password": password, "next": "/"})

    def act(self, page: str, path: str, fields: dict | None = None) -> Answer:
        """Posts a form of that page (with the page's CSRF token, back to the page) and follows to where it leads."""
        return self.follow(self.post(path, {"csrf": self.csrf(page), "next": page, **(fields or {})}))


REVIEW_OVER = 5000      # a Rakuten order over this many yen is held for a person to look at (保留: 要確認)


def console_site(config: dict, **web) -> None:
    """The base site with its console on a free loopback port; Rakuten orders confirmed by their mail, shipped
    with one carrier, and held for review over REVIEW_OVER yen."""
    config["web"] = {"listen": "127.0.0.1:0", **web}
    rakuten = shop(config, "rakuten")
    rakuten.pop("order_csv", None)
    rakuten.update(shipping=shipping("yamato-b2", "rakuten-shipping"), review={"amount_over": REVIEW_OVER})
    config["carrier"] = [carrier("yamato-b2", False)]


class Console:
    """A daemon serving the console on a free loopback port, with a user of each role."""

    def __init__(self, config_path: Path, tls: ssl.SSLContext | None = None, change=None, **web):
        """web: keys of the [web] table beyond listen; tls: how clients trust its certificate (with tls_cert);
        change: a last change to the config data."""
        self.tls = tls

        def site(config: dict) -> None:
            console_site(config, **web)
            if change:
                change(config)
        edit_config(config_path, site)
        self.running = Running(config_path)
        self.port = self.running.daemon.web_port
        os.environ["TSUNAGI_TEST_PASSWORD"] = PASSWORD
        for name, role in ROLES.items():
            assert self.running.cli("user", "add", name, "--role", role, "--password-env",
                                    "TSUNAGI_TEST_PASSWORD") == 0

    def client(self, user: str | None = None) -> Client:
        """A fresh browser, logged in as user when one is named."""
        c = Client(self.port, self.tls)
        if user:
            answer = c.login(user)
            assert answer.status == 303, (answer.status, answer.text[:300])
        return c

    def stop(self) -> None:
        self.running.stop()
