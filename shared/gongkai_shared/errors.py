"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error a client sees has a stable machine ``code``, a Chinese ``title``, the HTTP ``status``,
a ``detail``, the request id, and — for validation — one entry per field in ``errors``.
Bad input never yields a 500 and changes nothing: validation happens before the handler runs,
and a domain error raised inside a handler rolls the request's transaction back.

Hierarchy::

    GongkaiError                      500 internal_error
    ├── BadRequest                    400 bad_request
    ├── Unauthorized                  401 unauthorized
    ├── Forbidden                     403 forbidden
    ├── NotFound                      404 not_found
    ├── Conflict                      409 conflict
    ├── ValidationFailed              422 validation_error   (per-field errors)
    ├── RateLimited                   429 rate_limited
    ├── UpstreamUnavailable           502 upstream_unavailable
    ├── ServiceUnavailable            503 service_unavailable
    └── UpstreamTimeout               504 upstream_timeout
"""

from __future__ import annotations

from typing import Any, ClassVar

import asyncpg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gongkai_shared.logging import current_request_id

__all__ = [
    "PROBLEM_JSON",
    "BadRequest",
    "Conflict",
    "FieldError",
    "Forbidden",
    "GongkaiError",
    "NotFound",
    "Problem",
    "RateLimited",
    "ServiceUnavailable",
    "Unauthorized",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "ValidationFailed",
    "install_error_handlers",
    "problem_responses",
]

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger("gongkai.errors")


class FieldError(BaseModel):
    """One invalid field: where it is (``body.applicant.id_number``), what is wrong."""

    field: str = Field(description="出错字段的位置，如 body.title")
    message: str = Field(description="错误说明")
    type: str = Field(description="错误类型（稳定的机器代码）")


class Problem(BaseModel):
    """RFC 9457 problem details, as every Gongkai error answers."""

    type: str = Field(description="问题类型 URI")
    title: str = Field(description="问题标题（中文）")
    status: int
    code: str = Field(description="稳定的错误代码")
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = None


class GongkaiError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "服务器内部错误"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        title: str | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.instance_code = code or self.code
        self.instance_title = title or self.title
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}

    def to_problem(self, request: Request | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"urn:gongkai:problem:{self.instance_code}",
            "title": self.instance_title,
            "status": self.status,
            "code": self.instance_code,
            "detail": self.detail,
            "instance": request.url.path if request is not None else None,
            "request_id": current_request_id(),
        }
        if self.errors is not None:
            body["errors"] = [e.model_dump() for e in self.errors]
        body.update(self.extra)
        return body


class BadRequest(GongkaiError):
    status = 400
    code = "bad_request"
    title = "请求无效"


class Unauthorized(GongkaiError):
    status = 401
    code = "unauthorized"
    title = "未登录或登录已失效"


class Forbidden(GongkaiError):
    status = 403
    code = "forbidden"
    title = "无权执行此操作"


class NotFound(GongkaiError):
    status = 404
    code = "not_found"
    title = "资源不存在"


class Conflict(GongkaiError):
    status = 409
    code = "conflict"
    title = "操作与当前状态冲突"


class ValidationFailed(GongkaiError):
    status = 422
    code = "validation_error"
    title = "请求参数不合法"

    @classmethod
    def for_field(cls, field: str, message: str, type_: str = "invalid") -> ValidationFailed:
        return cls(message, errors=[FieldError(field=field, message=message, type=type_)])


class RateLimited(GongkaiError):
    status = 429
    code = "rate_limited"
    title = "请求过于频繁"


class UpstreamUnavailable(GongkaiError):
    """Another service could not be reached (the gateway's proxy, service-to-service calls)."""

    status = 502
    code = "upstream_unavailable"
    title = "上游服务不可用"


class UpstreamTimeout(GongkaiError):
    status = 504
    code = "upstream_timeout"
    title = "上游服务响应超时"


class ServiceUnavailable(GongkaiError):
    status = 503
    code = "service_unavailable"
    title = "服务暂不可用"


def problem_response(error: GongkaiError, request: Request | None) -> JSONResponse:
    return JSONResponse(
        error.to_problem(request), status_code=error.status, media_type=PROBLEM_JSON, headers=error.headers
    )


def problem_responses(*errors: type[GongkaiError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for a route, so the documented errors match what it raises."""
    out: dict[int | str, dict[str, Any]] = {
        422: {"model": Problem, "description": ValidationFailed.title, "content": {PROBLEM_JSON: {}}}
    }
    for err in errors:
        out[err.status] = {"model": Problem, "description": err.title, "content": {PROBLEM_JSON: {}}}
    return out


def _loc_to_field(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(p) for p in loc)


def validation_errors(raw: list[Any]) -> list[FieldError]:
    out = []
    for e in raw:
        msg = str(e.get("msg", "invalid"))
        out.append(FieldError(field=_loc_to_field(e.get("loc", ())), message=msg, type=str(e.get("type", "invalid"))))
    return out


_STATUS_CODES = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: ValidationFailed,
    429: RateLimited,
    503: ServiceUnavailable,
}


#: SQLSTATEs of input the database cannot store: 22000 (asyncpg could not encode a parameter, e.g. a
#: lone surrogate), 22021 (NUL byte), 22P05 (untranslatable character), 22003 (number out of range),
#: 22008 (date/time out of range).
_INPUT_DATA_ERRORS = frozenset({"22000", "22021", "22P05", "22003", "22008"})


def install_error_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` a problem+json answer."""

    @app.exception_handler(GongkaiError)
    async def _gongkai(request: Request, exc: GongkaiError) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(list(exc.errors()))
        fields = "、".join(e.field for e in errors[:5])
        return problem_response(ValidationFailed(f"字段不合法：{fields}", errors=errors), request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        cls = _STATUS_CODES.get(exc.status_code)
        if cls is None:
            err: GongkaiError = GongkaiError(str(exc.detail))
            err.status = exc.status_code  # type: ignore[misc]
            err.instance_code = "http_error"
            err.instance_title = "请求失败"
        elif exc.status_code == 404 and exc.detail == "Not Found":
            err = NotFound("没有这个地址")
        elif exc.status_code == 405:
            err = GongkaiError("不支持此方法", code="method_not_allowed", title="不支持此请求方法")
            err.status = 405  # type: ignore[misc]
        else:
            err = cls(str(exc.detail))
        err.headers = dict(exc.headers or {})
        return problem_response(err, request)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        return _conflict_problem(request, getattr(getattr(exc.orig, "__cause__", None), "constraint_name", None))

    @app.exception_handler(DBAPIError)
    async def _dbapi(request: Request, exc: DBAPIError) -> JSONResponse:
        sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return _database_problem(request, sqlstate, type(exc.orig).__name__ if exc.orig else None)

    # Statements sent through the driver itself (search, the sentiment service's COPY) raise asyncpg's
    # errors, not SQLAlchemy's: the same answers.
    @app.exception_handler(asyncpg.PostgresError)
    async def _driver(request: Request, exc: asyncpg.PostgresError) -> JSONResponse:
        if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
            return _conflict_problem(request, getattr(exc, "constraint_name", None))
        return _database_problem(request, getattr(exc, "sqlstate", None), type(exc).__name__)

    @app.exception_handler(asyncpg.InterfaceError)
    async def _driver_connection(request: Request, exc: asyncpg.InterfaceError) -> JSONResponse:
        # The connection closed under a statement. (Arguments the driver cannot encode are a bug of ours,
        # answered as any unexpected error.)
        if isinstance(exc, asyncpg.exceptions.DataError):
            raise exc
        return _database_problem(request, None, type(exc).__name__)

    # Unexpected exceptions are answered by gongkai_shared.logging.RequestIdMiddleware: a handler
    # for Exception here would run in Starlette's outermost middleware, outside the request id.


def _conflict_problem(request: Request, constraint: str | None) -> JSONResponse:
    # A constraint the code did not check first (two writers raced): a conflict, not a crash.
    log.warning("integrity_error", constraint=constraint)
    return problem_response(Conflict("数据与已有记录冲突，请刷新后重试"), request)


def _database_problem(request: Request, sqlstate: str | None, error_class: str | None) -> JSONResponse:
    if sqlstate in _INPUT_DATA_ERRORS:
        # Input the database cannot hold (a NUL byte, a lone surrogate, a number or date out of
        # range) that validation let through: the client's mistake, and nothing was written.
        log.warning("database_rejected_input", sqlstate=sqlstate)
        return problem_response(
            ValidationFailed("请求中含有无法保存的字符或超出范围的数值", code="unstorable_input"), request
        )
    log.error("database_error", error_class=error_class)
    return problem_response(ServiceUnavailable("数据库暂不可用"), request)
