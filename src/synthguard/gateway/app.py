"""The FastAPI application: OpenAI-compatible routes over the compliance pipeline.

Routes are thin: each builds a `RequestContext`, lets the admission pipeline decide, and
hands an admitted request to the chat or media service. Whatever happens, the request
gets exactly one record, appended to the audit log before the answer completes, and every
answer carries `X-SynthGuard-Record-Id`. The app also serves the audit log's proofs
(`/audit`), the identity, consent and governance APIs, and runs the audit and
governance background tasks while it is up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from synthguard import __version__
from synthguard.accounts import Accounts, RateLimiter, Records
from synthguard.config import Config
from synthguard.gateway import errors
from synthguard.gateway.backends import Backend, BackendError, build_backends
from synthguard.gateway.chat import ChatService
from synthguard.gateway.consent import ConsentChecker
from synthguard.gateway.context import RefusalStatus, RequestContext, Withheld
from synthguard.gateway.context import Scope as Modality
from synthguard.gateway.governance import GovernanceChecks
from synthguard.gateway.labeling import Labeler
from synthguard.gateway.media import MediaService
from synthguard.gateway.pipeline import KeyCache, Pipeline, admission_pipeline
from synthguard.gateway.recording import Recorder, RecordFailed
from synthguard.gateway.review import Reviewer
from synthguard.gateway.schemas import (
    ChatCompletionRequest,
    GenerationBody,
    ImageGenerationRequest,
    SpeechRequest,
)
from synthguard.gateway.service import OVERHEAD_HEADER
from synthguard.http_errors import ErrorBody
from synthguard.store import Database

if TYPE_CHECKING:
    from synthguard.audit.service import Audit
    from synthguard.governance.service import Governance
    from synthguard.identity.services import IdentityServices

MAX_BODY_BYTES = 8 * 1024 * 1024
RECORD_HEADER = "X-SynthGuard-Record-Id"
_START = "synthguard_start"
log = logging.getLogger("synthguard.gateway")


_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": what} for status, what in (
        (400, "Invalid request, or input/output blocked by content review"),
        (401, "Missing or invalid API key"),
        (403, "Account suspended/closed/limited, not real-name verified, missing scope or "
              "consent"),
        (404, "Unknown model"), (413, "Request body too large"), (429, "Rate limit reached"),
        (502, "Model server failed"),
        (503, "Review or record store unavailable, or generation/the model suspended by "
              "order"),
        (504, "Model server timed out"))}


class _StartClock:
    """Stamps the moment a request reaches the application, so the overhead figure also
    counts time spent queued in middleware before the route handler ran."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {})[_START] = time.perf_counter()
        await self.app(scope, receive, send)


class Gateway:
    """Runs one generation request: admission, the service, the record of a refusal."""

    def __init__(self, pipeline: Pipeline, recorder: Recorder) -> None:
        self.pipeline = pipeline
        self.recorder = recorder

    async def handle(self, request: Request, endpoint: str, scope: Modality,
                     schema: type[GenerationBody],
                     service: Callable[[RequestContext], Awaitable[Response]]) -> Response:
        ctx = RequestContext(endpoint=endpoint, scope=scope, schema=schema,
                             record_id=self.recorder.new_id(),
                             authorization=request.headers.get("authorization"), raw_body=b"",
                             started=request.scope.get("state", {}).get(_START,
                                                                        time.perf_counter()))
        try:
            response = await self._run(ctx, request, service)
        except RecordFailed:
            response = errors.store_unavailable().response()
        response.headers[RECORD_HEADER] = ctx.record_id
        return response

    async def _run(self, ctx: RequestContext, request: Request,
                   service: Callable[[RequestContext], Awaitable[Response]]) -> Response:
        try:
            ctx.raw_body = await _read_body(request)
            decision = await self.pipeline.admit(ctx)
            if decision.error is not None:
                return await self._refuse(ctx, decision.error, decision.status)
            return await service(ctx)
        except errors.GatewayError as exc:
            return await self._refuse(ctx, exc, "refused")
        except Withheld as exc:
            return await self._refuse(ctx, exc.error, exc.status, exc.output_review)
        except BackendError as exc:
            error = (errors.upstream_timeout() if exc.timeout
                     else errors.upstream_error(str(exc), exc.status))
            return await self._refuse(ctx, error, "error")
        except RecordFailed:
            raise
        except Exception:
            log.exception("request failed", extra={"event": "internal_error",
                                                   "record_id": ctx.record_id})
            if ctx.recorded:
                return errors.internal_error().response()
            return await self._refuse(ctx, errors.internal_error(), "error")

    async def _refuse(self, ctx: RequestContext, error: errors.GatewayError,
                      status: RefusalStatus | str,
                      output_review: dict[str, Any] | None = None) -> Response:
        overhead = await self.recorder.write(ctx, status, error_code=error.code,
                                             output_review=output_review)
        return error.response({**ctx.response_headers, OVERHEAD_HEADER: f"{overhead:.3f}"})


def _wants_page(request: Request) -> bool:
    path = request.url.path
    return (request.method in ("GET", "HEAD") and "text/html" in request.headers.get("accept", "")
            and not path.startswith(("/v1/", "/audit/")))


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    too_large = errors.GatewayError(413, f"The request body exceeds {MAX_BODY_BYTES} bytes.",
                                    "invalid_request_error", "request_too_large")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise too_large
    return bytes(body)


def _body(model: type[BaseModel]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}},
        "security": [{"bearer": []}]}


def _mount_console(app: FastAPI, config: Config, db: Database) -> None:
    """The operator console (/console) and the public pages (/, /report, /check ...),
    served by the gateway process from the same services (see synthguard.console.app)."""
    from synthguard.console.pages import console_router
    from synthguard.console.public import public_router
    from synthguard.console.services import ConsoleServices

    app.state.database = db
    app.state.config = config
    app.state.watermark_keys = getattr(app.state, "watermark_keys", None)
    services = ConsoleServices.build(app.state)
    app.state.console = services
    # The JSON operator API accepts console sessions too (with the CSRF header).
    app.state.governance_auth = services.auth
    app.include_router(public_router)
    app.include_router(console_router)


def create_app(config: Config, *, database: Database | None = None,
               reviewer: Reviewer | None = None, consent: ConsentChecker | None = None,
               identity: IdentityServices | None = None, audit: Audit | None = None,
               governance: Governance | None = None,
               backends: dict[str, Backend] | None = None, review_timeout_s: float = 5.0,
               key_cache_s: float = 2.0, demo_delay_s: float = 0.0) -> FastAPI:
    """The gateway for `config`, with the identity (real-name verification), consent,
    governance and audit-proof APIs. `database` defaults to `config.database_url`
    (already migrated). Built in unless given: `reviewer` = the configured rules, then
    the moderation engine over `config.moderation_library` (synthguard.moderation.gateway);
    `identity` = `IdentityServices.build(config, database)`; `consent` = its consent
    records; `audit` = `Audit(database, config)` (settings from `config.audit`, see
    audit/service.py); `governance` = `Governance(database, config)` with the audit log;
    `backends` = the configured routes. What the app builds, it closes on shutdown."""
    # Imported here: these packages implement the gateway's protocols, so they import
    # synthguard.gateway, whose package imports this module.
    from synthguard.audit import http as audit_http
    from synthguard.audit.service import Audit
    from synthguard.consent import http as consent_http
    from synthguard.consent.gateway import GatewayConsentChecker
    from synthguard.governance import http as governance_http
    from synthguard.governance.service import Governance
    from synthguard.identity import http as identity_http
    from synthguard.identity.errors import IdentityError
    from synthguard.identity.services import IdentityServices
    from synthguard.moderation.gateway import default_reviewer

    db = database if database is not None else Database(config.database_url)
    accounts = Accounts(db, config)
    audit = audit if audit is not None else Audit(db, config)
    governance = (governance if governance is not None
                  else Governance(db, config, accounts=accounts, audit=audit))
    checks = GovernanceChecks(governance)
    records = Records(db)
    recorder = Recorder(records, audit.log)
    reviewer = reviewer if reviewer is not None else default_reviewer(config, db)
    services = identity if identity is not None else IdentityServices.build(config, db)
    models = backends if backends is not None else build_backends(config.backends,
                                                                   demo_delay_s=demo_delay_s)
    upstream = {name: (route.upstream_model or name) for name, route in config.backends.items()}
    upstream.update({name: name for name in models if name not in upstream})
    keys = KeyCache(accounts, key_cache_s)
    pipeline = admission_pipeline(
        accounts=accounts, keys=keys, limiter=RateLimiter(), models=list(models),
        consent=consent if consent is not None else GatewayConsentChecker(services.consent),
        reviewer=reviewer,
        review_timeout_s=review_timeout_s, governance=checks)
    labeler = Labeler(config)
    chat = ChatService(models, upstream, labeler, recorder, reviewer=reviewer,
                       window_chars=config.review_window_chars,
                       review_timeout_s=review_timeout_s, governance=checks)
    media = MediaService(models, upstream, labeler, recorder, reviewer=reviewer,
                         review_timeout_s=review_timeout_s)
    gateway = Gateway(pipeline, recorder)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The audit task ingests records an inline append missed and signs checkpoints;
        # the governance task sweeps complaint deadlines. Both stop at shutdown.
        stop = asyncio.Event()
        tasks = [asyncio.create_task(audit.run_background(records, stop)),
                 asyncio.create_task(governance.run_background(stop))]
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
        for backend in {id(b): b for b in models.values()}.values():
            await backend.aclose()
        if identity is None:
            services.close()
        if database is None:
            db.dispose()

    app = FastAPI(title="SynthGuard compliance gateway", version=__version__,
                  lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="OpenAI-compatible API: every request is reviewed and "
                  "recorded, every output is labeled (GB 45438-2025).")
    app.add_middleware(_StartClock)
    app.state.gateway = gateway
    app.state.identity = services  # the identity and consent routers find it here
    app.state.audit = audit  # the audit router
    app.state.governance = governance  # the governance router

    async def registrations_open() -> None:
        refusal = await checks.before_registration()
        if refusal is not None:
            raise IdentityError(refusal.message, refusal.code, refusal.status)

    app.state.registrations_open = registrations_open  # asked by the identity sign-up

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        if _wants_page(request):
            # A person's browser on a mistyped address gets the public error page (with
            # the filing footer every public page carries), API clients the JSON error.
            from synthguard.console.web import error_page

            return await error_page(request, exc.status_code, code, str(exc.detail))
        return errors.GatewayError(exc.status_code, str(exc.detail), "invalid_request_error",
                                   code).response()

    @app.exception_handler(RequestValidationError)
    async def invalid_parameters(request: Request, exc: RequestValidationError) -> Response:
        # Parameters FastAPI validates (the audit router's query values): an OpenAI-style
        # 400 naming the parameter, never echoing the value.
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid"}
        param = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        return errors.invalid_request(f"Invalid request: {param or 'body'}: "
                                      f"{first.get('msg')}", param).response()

    @app.post("/v1/chat/completions", openapi_extra=_body(ChatCompletionRequest),
              responses={200: {"description": "A chat completion, or with stream=true an SSE "
                               "stream of chat.completion.chunk events"}, **_ERRORS})
    async def chat_completions(request: Request) -> Response:
        async def serve(ctx: RequestContext) -> Response:
            body = ctx.request
            streamed = isinstance(body, ChatCompletionRequest) and bool(body.stream)
            return await (chat.stream(ctx) if streamed else chat.complete(ctx))
        return await gateway.handle(request, "/v1/chat/completions", "chat",
                                    ChatCompletionRequest, serve)

    @app.post("/v1/images/generations", openapi_extra=_body(ImageGenerationRequest),
              responses={200: {"description": "Labeled images"}, **_ERRORS})
    async def images_generations(request: Request) -> Response:
        return await gateway.handle(request, "/v1/images/generations", "images",
                                    ImageGenerationRequest, media.images)

    @app.post("/v1/audio/speech", openapi_extra=_body(SpeechRequest),
              responses={200: {"description": "Labeled audio file",
                               "content": {"audio/mpeg": {}, "audio/wav": {},
                                           "audio/flac": {}, "audio/ogg": {}}}, **_ERRORS})
    async def audio_speech(request: Request) -> Response:
        return await gateway.handle(request, "/v1/audio/speech", "audio", SpeechRequest,
                                    media.speech)

    async def _authorised(request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and await keys.authenticate(token.strip()) is not None

    def _model(name: str, filing: dict[str, Any] | None) -> dict[str, Any]:
        # `filing`: the algorithm filing the route is served under (Provisions Art. 19),
        # null while it has none.
        return {"id": name, "object": "model", "created": 0, "owned_by": "synthguard",
                "filing": filing}

    @app.get("/v1/models", openapi_extra={"security": [{"bearer": []}]},
             responses={401: _ERRORS[401]})
    async def list_models(request: Request) -> Response:
        if not await _authorised(request):
            return errors.invalid_api_key().response()
        filings = await checks.filings(list(models))
        return JSONResponse({"object": "list",
                             "data": [_model(n, filings[n]) for n in models]})

    @app.get("/v1/models/{model}", openapi_extra={"security": [{"bearer": []}]},
             responses={401: _ERRORS[401], 404: _ERRORS[404]})
    async def retrieve_model(model: str, request: Request) -> Response:
        if not await _authorised(request):
            return errors.invalid_api_key().response()
        if model not in models:
            return errors.model_not_found(model, "/v1/models").response()
        return JSONResponse(_model(model, (await checks.filings([model]))[model]))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", responses={503: {"description": "The database is not reachable"}})
    async def readyz() -> Response:
        def ping() -> None:
            with db.session(readonly=True) as s:
                s.execute(text("SELECT 1"))
        try:
            with anyio.fail_after(5):
                await anyio.to_thread.run_sync(ping, abandon_on_cancel=True)
        except Exception as exc:
            log.warning("not ready", extra={"event": "not_ready", "error": type(exc).__name__})
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
        return JSONResponse({"status": "ready", "database": "ok"})

    # Included after the OpenAI routes: requests are matched against routes in order, and
    # the generation endpoints should not pay for checking every console route first.
    app.include_router(identity_http.router)
    app.include_router(consent_http.router)
    app.include_router(governance_http.router)
    app.include_router(audit_http.router, prefix="/audit")
    _mount_console(app, config, db)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)
            _, defs = models_json_schema(
                [(m, "validation") for m in (ChatCompletionRequest, ImageGenerationRequest,
                                             SpeechRequest)],
                ref_template="#/components/schemas/{model}")
            for body in defs.get("$defs", {}).values():
                if "model" in body.get("properties", {}):
                    # The configured routes are the model names that work here.
                    body["properties"]["model"]["examples"] = list(models)
            components = schema.setdefault("components", {})
            components.setdefault("schemas", {}).update(defs.get("$defs", {}))
            components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
