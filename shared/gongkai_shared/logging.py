"""Structured JSON logs with a request id that follows a request across services and events.

The request id comes from the ``X-Request-ID`` header (the gateway sets one when the caller did
not), is bound to every log line of the request, returned in the response, sent on outgoing
service-to-service calls, and written into events as ``correlation_id``; an event handler binds
the event's ``correlation_id`` in turn.

Logs never carry request bodies or query strings: applicants' personal data and tracking secrets
travel there.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from contextvars import ContextVar
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gongkai_shared.ids import uuid7

__all__ = ["REQUEST_ID_HEADER", "RequestIdMiddleware", "bind_request_id", "configure_logging", "current_request_id"]

REQUEST_ID_HEADER = "x-request-id"
_request_id: ContextVar[str | None] = ContextVar("gongkai_request_id", default=None)
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_configured = False


def current_request_id() -> str | None:
    return _request_id.get()


def bind_request_id(request_id: str | None) -> None:
    """Bind ``request_id`` to this task's context (logs, outgoing calls, events written now)."""
    _request_id.set(request_id)
    structlog.contextvars.bind_contextvars(request_id=request_id)


def configure_logging(*, service: str, level: str = "INFO", json: bool = True) -> None:
    """One JSON object per line on stdout, with service, level, time and the bound context."""
    global _configured
    renderer: Any = structlog.processors.JSONRenderer(ensure_ascii=False) if json else structlog.dev.ConsoleRenderer()

    def add_service(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
        event.setdefault("service", service)
        return event

    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            add_service,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            # Tracebacks without local variables: locals hold request headers and bodies, where
            # applicants' personal data travels (architecture.md, "The edge").
            structlog.processors.ExceptionRenderer(structlog.tracebacks.ExceptionDictTransformer(show_locals=False)),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping().get(level.upper(), 20)),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    if not _configured:
        logging.basicConfig(level=level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
        # uvicorn's access log prints query strings (tracking secrets live there): ours replaces it.
        logging.getLogger("uvicorn.access").disabled = True
        _configured = True


class RequestIdMiddleware:
    """Pure ASGI middleware (BaseHTTPMiddleware breaks context variables): request id + access log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = structlog.get_logger("gongkai.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                if _VALID_ID.match(candidate):
                    incoming = candidate
                break
        request_id = incoming or str(uuid7())
        structlog.contextvars.clear_contextvars()
        bind_request_id(request_id)
        started = time.perf_counter()
        status = 500
        started_response = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                started_response = True
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # An error no handler answered: answer it here, inside this middleware, so the 500
            # problem carries the request id like every other answer (Starlette's outermost
            # error middleware would send a bare one).
            self.log.exception("unhandled_error", path=scope.get("path", ""))
            if status == 500 and not started_response:
                body = json.dumps(
                    {
                        "type": "urn:gongkai:problem:internal_error",
                        "title": "服务器内部错误",
                        "status": 500,
                        "code": "internal_error",
                        "detail": None,
                        "instance": scope.get("path", ""),
                        "request_id": request_id,
                    },
                    ensure_ascii=False,
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"x-request-id", request_id.encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
        finally:
            path = scope.get("path", "")
            if not path.startswith(("/healthz", "/readyz")):
                self.log.info(
                    "request",
                    method=scope.get("method"),
                    path=path,  # never the query string
                    status=status,
                    ms=round((time.perf_counter() - started) * 1000, 2),
                )
