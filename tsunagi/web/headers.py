"""Headers on every answer: no framing, no sniffing, scripts and styles only from the console itself, and
the time the answer took (Server-Timing)."""
from __future__ import annotations

import time

from starlette.middleware.base import BaseHTTPMiddleware

HEADERS = {
    # htmx sets inline styles on its indicators: style-src allows them; scripts come only from /static
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        # how long the console took, for the browser's devtools and bench/console.py
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        for name, value in HEADERS.items():
            if name == "Cache-Control" and request.url.path.startswith("/static/"):
                continue
            response.headers.setdefault(name, value)
        return response
