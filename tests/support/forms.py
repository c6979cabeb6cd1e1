"""A form with a file, encoded as a browser posts it (multipart/form-data), for Client.request."""
from __future__ import annotations

import secrets


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, dict[str, str]]:
    """(body, headers) of a form: text fields, and files as name -> (file name, bytes)."""
    boundary = "----tsunagi" + secrets.token_hex(8)
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() +
                     str(value).encode() + b"\r\n")
    for name, (filename, data) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def upload(client, page: str, path: str, fields: dict[str, str], files: dict[str, tuple[str, bytes]]):
    """Posts a page's form with files (its CSRF token, back to the page) and follows to where it leads."""
    body, headers = multipart({"csrf": client.csrf(page), "next": page, **fields}, files)
    return client.follow(client.request("POST", path, body, headers))
