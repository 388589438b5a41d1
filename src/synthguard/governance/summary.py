"""The readable summary inside a regulator archive: one self-contained HTML page (no
scripts, no external resources, readable on a phone and in print) with the period, the
figures of each section, the complaint statistics, the switches flipped, the refuted
claims, and how to check the archive and the audit-log proofs. Every value is escaped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

_STYLE = """
body{font:16px/1.5 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem;color:#1a1a1a}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border:1px solid #bbb;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#eef}code{background:#f3f3f3;padding:0 .2rem;word-break:break-all}
.wrap{overflow-x:auto}
"""


def _table(headers: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    head = "".join(f"<th scope=\"col\">{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(_text(v))}</td>" for v in row) + "</tr>"
                   for row in rows)
    return (f'<div class="wrap"><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items()) or "—"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "—"
    return str(value)


def _counts(title: str, counts: Mapping[str, Any]) -> str:
    if not counts:
        return f"<p>{escape(title)}: none.</p>"
    return f"<h3>{escape(title)}</h3>" + _table(("", "count"), sorted(counts.items()))


def render_summary(meta: Mapping[str, Any], sections: Mapping[str, Any],
                   key_fingerprint: str) -> str:
    period = meta["period"]
    stats = sections["complaint_statistics"]
    violations = Counter(v["source"] for v in sections["violations"])
    risks = Counter(r for v in sections["violations"] for r in v.get("risk_ids", []))
    transitions = Counter(e["to_state"] for e in sections["enforcement"])
    audit = meta.get("audit", {})
    parts = [
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">",
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">",
        "<title>监管报送摘要 Regulator report summary</title>",
        f"<style>{_STYLE}</style></head><body><main>",
        "<h1>监管报送摘要 / Regulator report summary</h1>",
        _table(("", ""), [("Period (UTC, since ≤ t < until)",
                           f"{period['since']} – {period['until']}"),
                          ("Exported by", meta.get("exported_by")),
                          ("Signing key fingerprint", key_fingerprint)]),
        "<h2>Violations (Art. 10)</h2>", _counts("Records by source", violations),
        _counts("Risk categories", risks),
        "<h2>Enforcement (Art. 10)</h2>", _counts("Account state changes by new state",
                                                  transitions),
        "<h2>Complaints (Art. 12)</h2>",
        f"<p>Received in the period: {escape(str(stats['total']))}. Median working days to "
        f"answer: {escape(_text(stats['median_working_days_to_answer']))}.</p>",
        _counts("By kind", stats["by_kind"]), _counts("By category", stats["by_category"]),
        _counts("By state", stats["by_state"]), _counts("Deadlines", stats["deadlines"]),
        "<h2>Rumor refutation (Art. 11)</h2>",
        _table(("Claim", "Refutation", "Refuted on", "Matches"),
               [(r["claim"], r["refutation"], r["refuted_on"], r["by_action"])
                for r in sections["refutations"]]) if sections["refutations"]
        else "<p>No claims refuted or matched in the period.</p>",
        "<h2>Service switches (Art. 21)</h2>",
        _table(("Time", "Switch", "On", "Order", "Reason", "Actor"),
               [(c["at"], c["switch"], "on" if c["engaged"] else "off", c["order_ref"],
                 c["reason"], c["actor"]) for c in sections["switches"]])
        if sections["switches"] else "<p>No switch was flipped in the period.</p>",
        "<h2>Audit log proofs</h2>",
        _table(("", ""), sorted((k, v) for k, v in audit.items())) if audit else "",
        "<h2>How to check this archive</h2>",
        "<p>The manifest lists the SHA-256 of every file; <code>manifest.sig</code> is an "
        "Ed25519 signature of <code>manifest.json</code>. Run <code>synthguard governance "
        "report verify ARCHIVE --key PUBLIC_KEY</code> with the provider's published key.</p>",
        "</main></body></html>\n",
    ]
    return "\n".join(parts)
