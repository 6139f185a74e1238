"""The ASGI application: `catalog.main:create_app()` (gunicorn: `catalog.main:app`)."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response, status
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from catalog import __version__, api, db, metrics, schemas
from catalog.migrate import head_revision
from catalog.observability import RequestMiddleware, configure_logging, configure_tracing
from catalog.settings import Settings, get_settings

log = logging.getLogger("catalog")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Engines connect lazily: the process starts (and /healthz answers) while the database is down.
        app.state.db = db.connect(settings)
        log.info("started", extra={"env": settings.env, "replica": settings.has_replica, "version": __version__})
        yield
        app.state.db.dispose()
        log.info("stopped")

    app = FastAPI(
        title="catalog",
        version=__version__,
        description="Categories and the items filed under them; the workload of the strata platform.",
        root_path=settings.root_path,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.expected_revision = head_revision()
    app.include_router(api.router)
    app.add_middleware(RequestMiddleware, header=settings.request_id_header)
    app.state.tracing = configure_tracing(app, settings)

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeout)
    async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable", extra={"error": type(exc).__name__})
        return JSONResponse({"detail": "database unavailable"}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)

    @app.get("/healthz", response_model=schemas.Health, tags=["operations"])
    def healthz() -> dict[str, str]:
        """The process is alive (no dependency is checked)."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        response_model=schemas.Readiness,
        tags=["operations"],
        responses={503: {"model": schemas.Readiness, "description": "Not ready"}},
    )
    def readyz(request: Request, response: Response) -> dict[str, Any]:
        """Ready: the primary answers and its schema is at this release's migration head. A replica that does not
        answer is reported but does not take the instance out (reads would fail over to no one)."""
        database = request.app.state.db
        expected = request.app.state.expected_revision
        drain = os.environ.get("CATALOG_DRAIN_FILE")
        if drain and os.path.exists(drain):
            response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
            return {"status": "draining", "database": "not checked", "schema_revision": None,
                    "expected_revision": expected, "replica": "not checked"}  # fmt: skip
        try:
            revision = db.schema_revision(database.primary)
            state = "ok"
        except (OperationalError, PoolTimeout):
            revision, state = None, "unreachable"
        replica = "none"
        if settings.has_replica:
            try:
                db.schema_revision(database.replica)
                replica = "ok"
            except (OperationalError, PoolTimeout):
                replica = "unreachable"
        ready = state == "ok" and revision == expected
        if not ready:
            response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        if state == "ok" and revision != expected:
            state = "schema behind"
        return {
            "status": "ready" if ready else "not ready",
            "database": state,
            "schema_revision": revision,
            "expected_revision": expected,
            "replica": replica,
        }

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    return app


def __getattr__(name: str) -> Any:
    # `catalog.main:app` for gunicorn, built on first access (after the fork, with the worker's environment).
    if name == "app":
        return create_app()
    raise AttributeError(name)
