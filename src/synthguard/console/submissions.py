"""Filing from the public forms: a report or complaint (public.py) or an appeal
(account.py) becomes a `Submission` on the complaint desk, its evidence files are
attached one by one (each checked and scanned by the label inspector), and the receipt
page shows the code. Both doors share governance's per-address buckets with the JSON
API, so a form and a script count against one limit.
"""

from __future__ import annotations

from fastapi import Request, UploadFile
from starlette.responses import Response

from synthguard.console.services import console_services
from synthguard.console.web import render
from synthguard.governance.complaint_views import Submission
from synthguard.governance.errors import GovernanceError, invalid
from synthguard.governance.web import in_thread, rate_limit


async def file_submission(request: Request, submission: Submission,
                          evidence: list[UploadFile] | None) -> Response:
    """File a report, complaint or appeal from a form, attach its evidence files, and
    show the receipt. A refused evidence file does not undo the submission: the receipt
    page says what happened to it."""
    gov = console_services(request).governance
    limits = gov.settings.complaints
    files = [f for f in evidence or [] if f.filename]
    if len(files) > limits.max_evidence_files:
        raise invalid(f"at most {limits.max_evidence_files} evidence files", "too_many_files")
    rate_limit(request, "submit", limits.submissions_per_minute)
    receipt = await in_thread(gov.complaints.submit, submission)
    added, problems = [], []
    for upload in files:
        rate_limit(request, "evidence", limits.submissions_per_minute * max(
            1, limits.max_evidence_files))
        data = await upload.read()
        try:
            added.append(await in_thread(gov.complaints.add_evidence, receipt.code,
                                         upload.filename or "evidence", data))
        except GovernanceError as exc:
            problems.append(f"{upload.filename}: {exc}")
    return render(request, "receipt.html", {"receipt": receipt, "evidence": added,
                                            "problems": problems,
                                            "kind": submission.kind}, status=201)
