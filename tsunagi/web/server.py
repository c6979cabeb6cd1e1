"""The console as an ASGI app (Starlette) and its HTTP server (uvicorn) on a socket of the daemon's loop."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from tsunagi.common.errors import TsunagiError
from tsunagi.web import answers
from tsunagi.web.backend import Backend
from tsunagi.web.headers import SecurityHeaders
from tsunagi.web.throttle import Throttle
from tsunagi.web.views import (dashboard, intake, links, login, mail, order, orders, placeholder, settings, shipping,
                               stock)

STATIC = Path(__file__).parent / "static"
VIEWS = (login, dashboard, orders, order, intake, shipping, stock, links, mail, settings)

log = logging.getLogger("tsunagi.web")


def build_app(backend: Backend) -> Starlette:
    routes: list[Route | Mount] = [Mount("/static", StaticFiles(directory=STATIC), name="static")]
    for view in VIEWS:
        routes += view.routes()
    routes += placeholder.routes({r.path for r in routes})     # 準備中 for the pages nobody has built yet
    app = Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)],
                    exception_handlers={HTTPException: answers.refused, Exception: answers.failed})
    app.state.backend = backend
    app.state.throttle = Throttle()
    app.state.notices = {}       # session token's sha256 -> what its last actions said, shown on its next page
    return app


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the daemon's SIGTERM stops it (should_exit)."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


class Console:
    """The console listening on host:port (0: any free port) in the running loop, until stop()."""

    def __init__(self, backend: Backend, host: str, port: int, cert: Path | None = None, key: Path | None = None,
                 behind_proxy: bool = False):
        try:
            self.sock = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
        except OSError as exc:
            raise TsunagiError(f"cannot listen on {host}:{port} for the web console ({exc.strerror or exc}): "
                               f"another program uses that port; stop it, or change web.listen") from None
        self.port = self.sock.getsockname()[1]
        self.scheme = "https" if cert else "http"
        # log_config=None: uvicorn's few lines go through the daemon's own log set-up, not a config of its own
        config = uvicorn.Config(build_app(backend), lifespan="off", log_level="warning", access_log=False,
                                log_config=None,
                                ssl_certfile=str(cert) if cert else None, ssl_keyfile=str(key) if key else None,
                                ssl_version=ssl.PROTOCOL_TLS_SERVER, proxy_headers=behind_proxy,
                                server_header=False, timeout_graceful_shutdown=5)
        self.server = _Server(config)
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        while not self.server.started and not self.task.done():
            await asyncio.sleep(0.01)
        log.info("web console on %s://%s:%d", self.scheme, *self.sock.getsockname()[:2])

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task:
            await asyncio.gather(self.task, return_exceptions=True)
        self.sock.close()
