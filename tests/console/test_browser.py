"""The main journeys in headless Chromium (Debian's, driven by Playwright) against a real
uvicorn server on loopback: a reporter files a "missing AI label" report with an upload
and follows it by receipt code; a handler answers it before the deadline; a suspended
user signs in with their API key and appeals, and a handler lifts the action; a
reviewer decides a queued item and the user is warned; an auditor verifies the log; an
admin flips a switch; the public pages fit a 390 px phone screen.

Screenshots go to the test's tmp folder, and also to $SYNTHGUARD_SCREENSHOTS when set
(`SYNTHGUARD_SCREENSHOTS=docs/screenshots pytest tests/console/test_browser.py`
refreshes the ones docs/console.md shows), quantized to keep them small.
Only on SQLite: the pages' database work runs on both backends in the other tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import synthguard
from synthguard.accounts import AccountState
from synthguard.console.app import create_console_app
from synthguard.governance.switches import SwitchKind
from synthguard.labels.protect import Protection
from synthguard.labels.security import SigningKey
from synthguard.watermark import KeyRing, WatermarkKey
from tests.accounts.conftest import make_config
from tests.console import seed
from tests.console.conftest import PASSWORD, Console
from tests.gateway.conftest import LiveServer
from tests.tools import require_tool
from tests.watermark.corpus import photo

pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = require_tool("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # like a missing tool: skipped locally, a failure under CI
        message = "playwright is not installed (pip install playwright; no browser download)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def server(console: Console) -> Iterator[str]:
    with LiveServer(console.app) as live:
        yield live.url


class Shots:
    def __init__(self, folder: Path) -> None:
        self.folders = [folder]
        extra = os.environ.get("SYNTHGUARD_SCREENSHOTS")
        if extra:
            self.folders.append(Path(extra))

    def __call__(self, page: Any, name: str) -> None:
        path = self.folders[0] / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        for folder in self.folders[1:]:
            folder.mkdir(parents=True, exist_ok=True)
            with Image.open(path) as shot:
                small = shot.convert("RGB").quantize(colors=64, dither=Image.Dither.NONE)
                small.save(folder / f"{name}.png", optimize=True)


@pytest.fixture
def shots(tmp_path: Path) -> Shots:
    return Shots(tmp_path)


def new_page(browser: Any, server: str, size: dict[str, int] = DESKTOP) -> Any:
    context = browser.new_context(viewport=size, base_url=server, locale="zh-CN")
    return context.new_page()


def sign_in(page: Any, name: str) -> None:
    page.goto("/console/login")
    page.get_by_label("用户名 Name").fill(name)
    page.get_by_label("密码 Password").fill(PASSWORD)
    page.get_by_role("button", name="登录 Sign in").click()
    page.wait_for_url("**/console/")


def fits(page: Any, width: int) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= width, f"{page.url} is {overflow} px wide on a {width} px screen"


def test_report_follow_and_answer_before_the_deadline(
        browser: Any, server: str, console: Console, tmp_path: Path, shots: Shots) -> None:
    evidence = seed.picture(tmp_path, labelled=False, name="screenshot.png")
    page = new_page(browser, server)
    page.goto("/report")
    page.get_by_label("类别 Category").select_option("missing_ai_label")
    page.get_by_label("对象类型 What are you reporting?").select_option("produce_id")
    page.get_by_label("对象 Content id, ProduceID, URL or account").fill(
        "0190f3a2b4c5d6e7f8a9b0c1d2e3f4a5")
    page.get_by_label("说明 What is wrong?").fill("这张图片是人工智能生成的，但标识被删除了。")
    page.get_by_label("证据 Evidence").set_input_files(str(evidence))
    page.get_by_label("联系方式（可选）Contact (optional)").fill("reporter@example.com")
    page.get_by_label("我承诺所提供的信息真实。I declare that this information is true.").check()
    shots(page, "report-form")
    page.get_by_role("button", name="提交 Submit").click()
    code = page.locator("[data-receipt]").inner_text().strip()
    assert code and page.get_by_text("No AI label found").is_visible()
    shots(page, "report-receipt")

    page.goto("/report/status")
    page.get_by_label("回执码 Receipt code").fill(code)
    page.get_by_role("button", name="查询 Show status").click()
    assert page.locator("[data-state]").get_attribute("data-state") == "received"

    console.operator("handler", "complaint_handler")
    staff = new_page(browser, server)
    sign_in(staff, "handler")
    staff.get_by_role("link", name="投诉 Complaints").click()
    staff.locator("table a").first.click()
    assert staff.get_by_role("link", name="plain-screenshot.png").is_visible()
    staff.get_by_label("转到 Move to").select_option("in_review")
    staff.get_by_role("button", name="更新 Update").click()
    answer = "已核实，已为该图片补充标识并警告发布者。"
    staff.get_by_label("答复 Answer to the reporter").fill(answer)
    shots(staff, "console-complaint")
    staff.get_by_role("button", name="发送答复 Send answer").click()
    assert staff.locator("[data-state]").first.get_attribute("data-state") == "answered"

    handled = console.gov.complaints.find(states=("answered",))[0]
    assert handled.answered_at is not None and handled.answered_at < handled.answer_due_at

    page.goto("/report/status")
    page.get_by_label("回执码 Receipt code").fill(code)
    page.get_by_role("button", name="查询 Show status").click()
    assert page.locator("[data-answer]").inner_text() == answer
    shots(page, "report-status")


def test_a_suspended_user_appeals_and_a_handler_lifts_the_action(
        browser: Any, server: str, console: Console, shots: Shots) -> None:
    user_id = seed.user(console)
    _, key = console.accounts.issue_key(user_id)
    console.accounts.set_state(user_id, AccountState.SUSPENDED,
                               "automatic rule: 3 consecutive blocked inputs (limit 3)",
                               "system")
    page = new_page(browser, server)
    page.goto("/")
    page.get_by_role("link", name="申诉 Appeal").click()
    page.get_by_label("API 密钥 API key").fill(key)
    page.get_by_role("button", name="登录 Sign in").click()
    page.wait_for_url("**/account")
    assert page.locator("[data-account-state]").get_attribute(
        "data-account-state") == "suspended"
    page.get_by_role("link", name="申诉 Appeal", exact=True).last.click()
    page.get_by_label("理由 Why should we reconsider?").fill(
        "这三条提示词是小说创作，被误判了。")
    page.get_by_label("我承诺所提供的信息真实。I declare that this information is true.").check()
    shots(page, "account-appeal")
    page.get_by_role("button", name="提交申诉 Submit the appeal").click()
    assert page.locator("[data-receipt]").inner_text().strip()

    console.operator("handler", "complaint_handler")
    staff = new_page(browser, server)
    sign_in(staff, "handler")
    staff.get_by_role("link", name="投诉 Complaints").click()
    staff.locator("table a").first.click()
    assert staff.locator("[data-appellant]").is_visible()
    staff.get_by_label("答复 Answer to the reporter").fill("经复核属误判，已恢复账号。")
    staff.get_by_label("撤销处置：账号恢复正常 Lift the action: the account becomes active "
                       "again").check()
    shots(staff, "console-appeal")
    staff.get_by_role("button", name="发送答复 Send answer").click()
    assert staff.locator("[data-state]").first.get_attribute("data-state") == "answered"
    assert console.accounts.user_state(user_id) is AccountState.ACTIVE

    page.goto("/account")
    assert page.locator("[data-account-state]").get_attribute("data-account-state") == \
        "active"
    assert page.locator("[data-answer]").inner_text() == "经复核属误判，已恢复账号。"
    fits(page, DESKTOP["width"])


def test_reviewer_blocks_a_queued_item_and_the_user_is_warned(
        browser: Any, server: str, console: Console, shots: Shots) -> None:
    user_id = seed.user(console)
    seed.queued(console, user_id, "请帮我写一段冒充某位名人的语音脚本。")
    console.operator("reviewer", "reviewer")
    page = new_page(browser, server)
    sign_in(page, "reviewer")
    page.get_by_role("link", name="审核 Review").click()
    page.get_by_role("button", name="认领 Claim").click()
    page.get_by_label("备注 Note").fill("冒充他人")
    shots(page, "console-review")
    page.get_by_role("button", name="拦截并警告 Block and warn").click()
    assert page.get_by_text("Decision recorded.").is_visible()
    assert console.accounts.user_state(user_id) is AccountState.WARNED


def test_auditor_verifies_the_log(browser: Any, server: str, console: Console,
                                  shots: Shots) -> None:
    seed.logged_records(console, 6)
    console.operator("auditor", "auditor")
    page = new_page(browser, server)
    sign_in(page, "auditor")
    shots(page, "console-dashboard")
    page.get_by_role("link", name="审计 Audit").click()
    page.get_by_role("button", name="验证整个日志 Verify the whole log").click()
    result = page.locator("[data-ok]")
    result.wait_for()
    assert result.get_attribute("data-ok") == "true", result.inner_text()
    assert "6 entries" in result.inner_text()
    shots(page, "console-audit")


def test_admin_flips_a_switch(browser: Any, server: str, console: Console,
                              shots: Shots) -> None:
    console.operator("admin", "admin")
    page = new_page(browser, server)
    sign_in(page, "admin")
    page.get_by_role("link", name="开关 Switches").click()
    form = page.locator("form[action='/console/switches/engage']")
    form.get_by_label("开关 Switch").select_option("generation")
    form.get_by_label("原因 Reason").fill("监管部门要求暂停生成服务")
    form.get_by_label("文号 Order reference").fill("网信办〔2026〕12号")
    form.get_by_role("button", name="启用 Engage").click()
    assert page.locator("li[data-switch='generation']").is_visible()
    assert console.gov.switches.is_active(SwitchKind.GENERATION)
    shots(page, "console-switches")


def test_check_a_file_and_the_phone_layout(browser: Any, console: Console, tmp_path: Path,
                                          shots: Shots) -> None:
    # Served with content protection configured, as a deployment has it: the page then
    # reports our watermark and the signed label beside the metadata label.
    protection = Protection(watermark_keys=KeyRing([WatermarkKey(2, bytes(range(32)))]),
                            signing_key=SigningKey.generate())
    app = create_console_app(make_config(protection=protection), console.db,
                             governance=console.gov, identity=console.identity)
    plain = tmp_path / "generated.png"
    photo(np.random.default_rng(3), (512, 384)).save(plain)
    labelled = tmp_path / "generated-labelled.png"
    synthguard.label(plain, labelled, producer=seed.PRODUCER, produce_id="img-0001",
                     protection=protection)
    with LiveServer(app) as live:
        page = new_page(browser, live.url, PHONE)
        for path in ("/", "/report", "/report/status", "/check", "/process", "/filings",
                     "/policies", "/account/login", "/console/login"):
            page.goto(path)
            fits(page, PHONE["width"])
        page.goto("/report")
        shots(page, "phone-report-form")
        page.goto("/check")
        page.get_by_label("文件 File").set_input_files(str(labelled))
        page.get_by_role("button", name="检测 Check").click()
        verdict = page.locator("[data-verdict]")
        verdict.wait_for()
        assert verdict.get_attribute("data-verdict") == "compliant"
        assert page.locator("[data-watermark]").get_attribute("data-watermark") == "present"
        assert page.locator("[data-signature]").get_attribute("data-signature") == "valid"
        assert page.url.endswith("/check")  # htmx swapped the result in; no navigation
        fits(page, PHONE["width"])
        shots(page, "phone-check-result")
