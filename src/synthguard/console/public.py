"""The public pages: no sign-in. Every page shows the filing information in its footer;
every form carries a CSRF token; the report, follow-up and "check a file" forms are
rate-limited per client address (the report forms share governance's buckets with the
JSON API, so both doors count against one limit).

| path | what |
| --- | --- |
| GET / | start page |
| GET, POST /report | file a report or complaint with evidence; shows the receipt code |
| GET, POST /report/status | follow a report by receipt code (POST: the code stays out of URLs and logs) |
| GET, POST /check | check a file for its AI label (and watermark) |
| GET /policies, /policies/{kind} | the current policy documents (?version=) |
| GET /process | the processing flow and deadlines, from the configuration |
| GET /filings | algorithm filing numbers and public information links |
| GET /static/console/{name} | the stylesheet, htmx, the notice font |
"""  # noqa: E501

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from starlette.responses import Response

from synthguard.console.account import account_router
from synthguard.console.checkfile import check_file
from synthguard.console.services import console_services
from synthguard.console.submissions import file_submission
from synthguard.console.web import ConsoleRoute, check_csrf, render, static_file
from synthguard.governance.complaint_views import Category, Submission
from synthguard.governance.errors import GovernanceError, invalid
from synthguard.governance.flow import CATEGORY_LABELS
from synthguard.governance.policies import PolicyKind
from synthguard.governance.web import in_thread, rate_limit

public_router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
CHECKS_PER_MINUTE = 10
TARGET_KINDS = {"content_id": "内容编号 Content id", "produce_id": "ProduceID (from the label)",
                "url": "网址 URL", "account": "账号 Account"}
Csrf = Annotated[None, Depends(check_csrf)]


def _form_context(request: Request, values: dict[str, Any] | None = None) -> dict[str, Any]:
    settings = console_services(request).governance.settings.complaints
    return {"categories": CATEGORY_LABELS, "target_kinds": TARGET_KINDS,
            "values": values or {}, "max_files": settings.max_evidence_files,
            "max_mb": settings.max_evidence_bytes / (1024 * 1024),
            "formats": settings.evidence_formats}


@public_router.get("/")
def home(request: Request) -> Response:
    return render(request, "home.html")


@public_router.get("/report")
def report_form(request: Request,
                category: Annotated[str | None, Query(max_length=40)] = None) -> Response:
    chosen = category if category in CATEGORY_LABELS else "missing_ai_label"
    return render(request, "report.html", _form_context(request, {"category": chosen}))


@public_router.post("/report")
async def report(request: Request, _: Csrf,
                 kind: Annotated[Literal["report", "complaint"], Form()],
                 category: Annotated[Category, Form()],
                 target_kind: Annotated[Literal["content_id", "produce_id", "url", "account"],
                                        Form()],
                 target: Annotated[str, Form(min_length=1, max_length=2000)],
                 description: Annotated[str, Form(min_length=1, max_length=5000)],
                 declared_true: Annotated[bool, Form()] = False,
                 contact: Annotated[str, Form(max_length=200)] = "",
                 evidence: Annotated[list[UploadFile] | None, File()] = None) -> Response:
    submission = Submission(kind=kind, category=category, target_kind=target_kind,
                            target=target, description=description,
                            declared_true=declared_true, contact=contact.strip() or None)
    return await file_submission(request, submission, evidence)


@public_router.get("/report/status")
def status_form(request: Request) -> Response:
    return render(request, "status.html")


@public_router.post("/report/status")
def status(request: Request, _: Csrf,
           receipt_code: Annotated[str, Form(min_length=1, max_length=64)]) -> Response:
    gov = console_services(request).governance
    rate_limit(request, "status", gov.settings.complaints.status_lookups_per_minute)
    try:
        found = gov.complaints.status(receipt_code)
    except GovernanceError as exc:
        if exc.status != 404:
            raise
        return render(request, "status.html", {"not_found": True}, status=404)
    return render(request, "status.html", {"status": found})


@public_router.get("/check")
def check_form(request: Request) -> Response:
    return render(request, "check.html", {"watermarks": bool(
        console_services(request).watermark_keys)})


@public_router.post("/check")
async def check(request: Request, _: Csrf, file: Annotated[UploadFile, File()]) -> Response:
    services = console_services(request)
    rate_limit(request, "check", CHECKS_PER_MINUTE)
    limit = services.governance.settings.complaints.max_evidence_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise GovernanceError(f"the file exceeds {limit} bytes", "request_too_large", 413)
    if not data:
        raise invalid("the file is empty", "empty_file")
    result = await in_thread(check_file, data, file.filename or "upload",
                             services.watermark_keys, services.protection)
    return render(request, "check.html", {"result": result,
                                          "watermarks": bool(services.watermark_keys)},
                  fragment="result")


@public_router.get("/policies")
def policies(request: Request) -> Response:
    docs = console_services(request).governance.policies.current_all()
    return render(request, "policies.html", {"policies": docs})


@public_router.get("/policies/{kind}")
def policy(request: Request, kind: PolicyKind,
           version: Annotated[int | None, Query(ge=1)] = None) -> Response:
    docs = console_services(request).governance.policies
    found = docs.version(kind, version) if version else docs.current(kind)
    if found is None:
        raise GovernanceError("this policy has not been published yet", "unknown_policy", 404)
    return render(request, "policy.html", {"policy": found, "history": docs.history(kind)})


@public_router.get("/process")
def process(request: Request) -> Response:
    return render(request, "process.html",
                  {"flow": console_services(request).governance.flow()})


@public_router.get("/filings")
def filings(request: Request) -> Response:
    return render(request, "filings.html")


@public_router.get("/static/console/{name}")
def static(name: str) -> Response:
    return static_file(name)


public_router.include_router(account_router)
