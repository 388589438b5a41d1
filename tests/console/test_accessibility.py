"""Basic accessibility of every page, public and console: a language, a title and a
viewport meta; every visible form control has a label (a `<label for>` naming its id, or
an enclosing label); ids are unique; buttons have text; and every text/background
colour pair the stylesheet uses meets WCAG 2.x AA contrast (computed here)."""

from __future__ import annotations

import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import synthguard.console
from synthguard.accounts import AccountState
from tests.console import seed
from tests.console.conftest import Console, csrf_token, signed_in
from tests.console.seed import REPORT
from tests.console.test_account import account_sign_in

CSS = Path(synthguard.console.__file__).parent / "static" / "console.css"
# Every foreground/background pair the rules put together, and the ratio it needs:
# 4.5 for text, 3.0 for the borders of form fields (WCAG 1.4.11).
PAIRS = {
    ("fg", "bg"): 4.5, ("fg", "surface"): 4.5, ("muted", "bg"): 4.5, ("muted", "surface"): 4.5,
    ("accent", "bg"): 4.5, ("accent", "surface"): 4.5, ("accent-fg", "accent"): 4.5,
    ("accent-fg", "danger"): 4.5, ("danger", "danger-bg"): 4.5, ("warn", "warn-bg"): 4.5,
    ("ok", "ok-bg"): 4.5, ("header-fg", "header-bg"): 4.5, ("field-border", "bg"): 3.0,
}
NOT_TEXT = {"border"}  # separators only; never the only cue
PUBLIC = ("/", "/report", "/report/status", "/check", "/policies", "/process", "/filings",
          "/account/login", "/console/login")
CONSOLE = ("/console/", "/console/review", "/console/complaints", "/console/users",
           "/console/consents", "/console/library", "/console/registries", "/console/rumors",
           "/console/policies", "/console/exports", "/console/audit", "/console/switches",
           "/console/operators")


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_of_every_colour_pair() -> None:
    css = CSS.read_text()
    root = css[css.index(":root {"):css.index("}")]
    colours = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6});", root))
    rules = css[css.index("}") + 1:]
    assert not re.search(r"#[0-9a-fA-F]{3,8}\b", rules), "colours only through :root"
    used = set(re.findall(r"var\(--([\w-]+)\)", rules))
    assert used <= set(colours), used - set(colours)
    checked = {name for pair in PAIRS for name in pair}
    assert used - NOT_TEXT <= checked, f"colours without a checked pair: {used - checked}"
    for (fg, bg), needed in PAIRS.items():
        ratio = contrast(colours[fg], colours[bg])
        assert ratio >= needed, f"{fg} on {bg}: {ratio:.2f} < {needed}"
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") < 4.5  # the check can fail


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.lang = self.title = self.viewport = False
        self.ids: list[str] = []
        self.label_for: set[str] = set()
        self.controls: list[tuple[str, str | None, bool]] = []  # tag, id, inside a label
        self.buttons: list[str] = []
        self._labels = 0
        self._button: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(str(a["id"]))
        if tag == "html":
            self.lang = bool(a.get("lang"))
        elif tag == "title":
            self.title = True
        elif tag == "meta" and a.get("name") == "viewport":
            self.viewport = "width=device-width" in (a.get("content") or "")
        elif tag == "label":
            self._labels += 1
            if a.get("for"):
                self.label_for.add(str(a["for"]))
        elif tag in ("input", "select", "textarea"):
            if a.get("type") not in ("hidden", "submit") and not a.get("aria-label"):
                self.controls.append((tag, a.get("id"), self._labels > 0))
        elif tag == "button":
            self._button = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._labels -= 1
        elif tag == "button" and self._button is not None:
            self.buttons.append("".join(self._button).strip())
            self._button = None

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button.append(data)


def check_page(html: str, path: str) -> None:
    page = _Page()
    page.feed(html)
    assert page.lang and page.title and page.viewport, path
    assert len(page.ids) == len(set(page.ids)), f"{path}: duplicate ids"
    for tag, control_id, wrapped in page.controls:
        assert wrapped or (control_id and control_id in page.label_for), \
            f"{path}: <{tag} id={control_id}> has no label"
        if control_id and wrapped:
            assert control_id in page.label_for, f"{path}: label of {control_id} lacks for="
    assert all(page.buttons), f"{path}: a button without text"


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_every_page_labels_its_controls(client: TestClient, console: Console,
                                        tmp_path: Path) -> None:
    for path in PUBLIC:
        check_page(client.get(path).text, path)
    labelled = seed.picture(tmp_path, labelled=True).read_bytes()
    result = client.post("/check", data={"csrf_token": csrf_token(client, "/check")},
                         files={"file": ("generated.png", labelled, "image/png")})
    assert 'data-verdict="compliant"' in result.text
    check_page(result.text, "/check (result)")
    console.gov.registry.register_algorithm("算法", "生成合成类", [], actor="t")
    console.gov.registry.add_dataset("data", source="s", licence="l",
                                     collected_on=date.today(), actor="t")
    console.gov.rumors.add("某地自来水含有大量有毒物质", "不实。", sources=["x"],
                           refuted_on=date.today(), actor="t")
    user_id = seed.user(console)
    seed.queued(console, user_id)
    receipt = console.gov.complaints.submit(REPORT)
    assert receipt.code
    [complaint] = console.gov.complaints.queue()
    _, key = console.accounts.issue_key(user_id)
    console.accounts.set_state(user_id, AccountState.WARNED, "test", "admin")
    account_sign_in(client, key)
    for path in ("/account", "/account/appeal"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        check_page(answer.text, path)
    signed_in(client, console, "admin", name="lead")
    for path in (*CONSOLE, f"/console/complaints/{complaint.id}", f"/console/users/{user_id}"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        check_page(answer.text, path)
    item = console.app.state.console.moderation.items()[0]
    console.app.state.console.moderation.claim(item.id, actor="lead")
    check_page(client.get("/console/review").text, "/console/review (claimed)")
