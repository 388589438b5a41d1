"""The published "processing flow and deadlines" of complaints (Provisions Art. 12 asks
providers to publish the process and the feedback deadlines), generated from the same
configuration the deadline clocks run on, so the page can never promise other numbers
than the queue enforces.

`processing_flow(...)` gives a structure the console renders as HTML (`to_dict`) and a
Markdown form (`to_markdown`) for the CLI and plain pages. Texts are Chinese with an
English gloss.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date

from synthguard.governance.calendar import WorkingCalendar
from synthguard.governance.models import CATEGORIES, COMPLAINT_KINDS
from synthguard.governance.settings import ComplaintSettings

CATEGORY_LABELS = {
    "illegal_content": ("违法和不良信息", "Illegal or harmful content"),
    "missing_ai_label": ("未标识或标识被删除的人工智能生成内容",
                         "AI-generated content without its label, or with the label removed"),
    "face_voice_without_consent": ("未经同意使用人脸、人声", "Face or voice used without consent"),
    "portrait_reputation_privacy": ("侵害肖像权、名誉权、隐私权",
                                    "Infringement of portrait, reputation or privacy"),
    "rumor": ("谣言和虚假信息", "Rumors and false information"),
    "personal_information": ("个人信息权益请求", "Personal-information requests"),
    "other": ("其他", "Other"),
}
KIND_LABELS = {
    "report": ("举报", "Report: anyone, no account needed"),
    "complaint": ("投诉", "Complaint about content or a service"),
    "appeal": ("申诉", "Appeal against our action on your account (sign in)"),
}


@dataclass(frozen=True)
class FlowStep:
    state: str
    title: str
    description: str
    deadline_working_days: int | None


@dataclass(frozen=True)
class CategoryDeadline:
    category: str
    title: str
    title_en: str
    answer_working_days: int


@dataclass(frozen=True)
class FlowDocument:
    title: str
    introduction: str
    kinds: tuple[tuple[str, str, str], ...]  # (kind, title, English)
    steps: tuple[FlowStep, ...]
    categories: tuple[CategoryDeadline, ...]
    acknowledge_working_days: int
    calendar_rule: str
    holidays: tuple[str, ...]  # configured, this year and next
    makeup_workdays: tuple[str, ...]
    evidence_rule: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def to_markdown(self) -> str:
        lines = [f"# {self.title}", "", self.introduction, "",
                 "## 受理范围 (What you can file)", ""]
        lines += [f"- **{zh}** ({en})" for _, zh, en in self.kinds]
        lines += ["", "## 处理流程 (Steps)", ""]
        for i, step in enumerate(self.steps, 1):
            limit = (f" — {step.deadline_working_days} 个工作日内"
                     if step.deadline_working_days else "")
            lines.append(f"{i}. **{step.title}**{limit}: {step.description}")
        lines += ["", "## 答复时限 (Answer deadlines)", "", "| 类别 (Category) | 工作日 |",
                  "| --- | --- |"]
        lines += [f"| {c.title} ({c.title_en}) | {c.answer_working_days} |"
                  for c in self.categories]
        lines += ["", "## 工作日 (Working days)", "", self.calendar_rule]
        if self.holidays:
            lines += ["", "法定节假日 (holidays): " + ", ".join(self.holidays)]
        if self.makeup_workdays:
            lines += ["", "调休工作日 (make-up working days): " + ", ".join(self.makeup_workdays)]
        lines += ["", "## 证据 (Evidence)", "", self.evidence_rule, ""]
        return "\n".join(lines)


def processing_flow(settings: ComplaintSettings, calendar: WorkingCalendar, *,
                    today: date) -> FlowDocument:
    ack = settings.acknowledge_days
    steps = (
        FlowStep("received", "提交 (Submitted)", "提交后获得受理回执码，凭回执码查询进度。"
                 " You get a receipt code to follow your case.", None),
        FlowStep("acknowledged", "受理 (Acknowledged)", "确认受理并指定处理人员。"
                 " We confirm the case and assign a handler.", ack),
        FlowStep("in_review", "核查 (In review)", "核查内容、标识和证据，必要时采取处置措施。"
                 " We check the content, its label and your evidence, and act on it.", None),
        FlowStep("escalated", "升级 (Escalated)", "复杂或超时事项升级由上级人员处理。"
                 " Complex or overdue cases go to a senior handler.", None),
        FlowStep("answered", "答复 (Answered)", "告知处理结果和理由，可凭回执码查看。"
                 " We tell you the outcome and why.", settings.answer_days),
        FlowStep("closed", "办结 (Closed)", "事项办结；对答复有异议的可再次提出。"
                 " The case is closed; you may dispute the answer.", None),
    )
    categories = tuple(CategoryDeadline(c, *CATEGORY_LABELS[c], settings.answer_days_for(c))
                       for c in CATEGORIES)
    years = (today.year, today.year + 1)
    listed = [calendar.listed(y) for y in years]
    mb = settings.max_evidence_bytes / (1024 * 1024)
    return FlowDocument(
        title="投诉、举报和申诉处理流程及反馈时限 (Complaint, report and appeal process)",
        introduction=(f"我们在 {ack} 个工作日内受理，在下表所列工作日内答复。"
                      f" We acknowledge within {ack} working day(s) and answer within the "
                      "working days listed below."),
        kinds=tuple((k, *KIND_LABELS[k]) for k in COMPLAINT_KINDS),
        steps=steps, categories=categories, acknowledge_working_days=ack,
        calendar_rule=("时限按北京时间的工作日计算，提交当日不计入，至最后一个工作日 24 时届满；"
                       "周末和法定节假日不计，调休上班日计入。 Deadlines count working days in "
                       "China time from the day after submission and end at midnight."),
        holidays=tuple(d for item in listed for d in item["holidays"]),
        makeup_workdays=tuple(d for item in listed for d in item["makeup_workdays"]),
        evidence_rule=(f"每件最多 {settings.max_evidence_files} 个文件，每个不超过 {mb:g} MB；"
                       f"接受的格式：{', '.join(settings.evidence_formats)}。上传的图片、音视频"
                       "会检查其人工智能生成内容标识。 Pictures, audio and video you upload are "
                       "checked for AI-generated content labels."),
    )
