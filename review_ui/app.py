"""The review app: ``create_app(settings)`` builds the FastAPI application (pages and JSON API)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from migrate.db.session import migrate_to_head
from migrate.settings import Settings
from review_ui import services
from review_ui.routes import audit, auth, drafts, pages, patients, queue

__all__ = ["create_app"]

HERE = Path(__file__).parent
log = logging.getLogger("chartmigrate.review")

# Everything is served from this origin: no CDN, no inline script, no framing by other sites.
CSP = (
    "default-src 'self'; img-src 'self' blob:; style-src 'self'; script-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception as exc:
            # Answered here rather than by Starlette's outermost handler, which re-raises: the server
            # would then log a traceback whose SQL parameters may be PHI, and drop the connection.
            # The route's path template and the error's type only.
            route = request.scope.get("route")
            log.error("unhandled %s in %s %s", type(exc).__name__, request.method, getattr(route, "path", "?"))
            message = "internal error; the request was not carried out"
            response = (
                pages.error_page(request, 500, message)
                if _wants_html(request)
                else JSONResponse({"detail": message}, status_code=500)
            )
        # How long the server took (the load benchmark reads it; browsers show it in their tools).
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")  # pages and data are PHI
        if request.url.scheme == "https":
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/")


def create_app(settings: Settings) -> FastAPI:
    migrate_to_head(settings.database_url)
    app = FastAPI(
        title="chartmigrate review",
        version="1",
        summary="Review queue, drafts, decisions and the audit trail of chartmigrate.",
        openapi_url="/api/openapi.json",
        docs_url=None,  # the interactive docs load scripts from a CDN; hospital networks have none
        redoc_url=None,
    )
    app.state.settings = settings
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(services.ReviewError)
    async def review_error(request: Request, exc: services.ReviewError) -> Response:
        if _wants_html(request):
            if isinstance(exc, services.Unauthorized):
                return RedirectResponse("/login", status_code=303)
            return pages.error_page(request, exc.status_code, exc.message)
        return JSONResponse({"detail": exc.message}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        # FastAPI's default echoes the input, which may be PHI: name the places only.
        where = sorted({".".join(str(p) for p in e.get("loc", ())) for e in exc.errors()})
        message = f"invalid request: {', '.join(where)}"
        if _wants_html(request):
            return pages.error_page(request, 422, message)
        return JSONResponse({"detail": message}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = str(exc.detail) if exc.status_code < 500 else "internal error"
        if _wants_html(request):
            return pages.error_page(request, exc.status_code, message)
        return JSONResponse({"detail": message}, status_code=exc.status_code)

    for module in (auth, queue, drafts, patients, audit, pages):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    return app
