"""The duplication report as one static HTML file: totals, clusters, members side by side.

Pure: ``render_html`` reads the JSON form of a report (``DuplicationReport.to_dict()``) and returns
the page. Everything the page needs is inline (CSS, a few lines of JS to filter and fold
clusters); a Content-Security-Policy of ``default-src 'none'`` makes sure it never reaches the
network, so it opens the same from a CI artifact, a file share or an air-gapped machine. All text
from the repository is HTML-escaped: the code of a pull request is hostile input.

Each cluster shows its members and, for each member but one, a side-by-side comparison with the
cluster's longest member (``side_by_side``: difflib's line matching, and within a changed line
the characters that differ marked).
"""

from __future__ import annotations

import difflib
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_COMPARISONS = 8  # side-by-side comparisons per cluster (the members table lists them all)
MAX_DIFF_LINES = 400  # lines per side of a comparison; longer functions are cut, and it says so
MAX_DIRECTORIES = 60  # rows of the per-directory table (by duplicated lines); the rest are summed
OPEN_CLUSTERS = 3
ALIKE_LINE = 0.5  # character similarity at which two lines of a changed block are shown as one edited line  # clusters shown unfolded when the page opens


@dataclass(frozen=True)
class DiffRow:
    """One row of a side-by-side comparison: ``kind`` is ``same``, ``changed`` (one line edited),
    ``replaced`` (two unlike lines), ``left`` (only in the left function) or ``right``; the texts are HTML (escaped, changed characters in ``<mark>``)."""

    kind: str
    left_no: int | None
    left: str
    right_no: int | None
    right: str


def _marked(a: str, b: str) -> tuple[str, str]:
    """Both lines escaped, with the characters that differ between them wrapped in ``<mark>``."""
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    left, right = [], []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        x, y = html.escape(a[i1:i2]), html.escape(b[j1:j2])
        if op == "equal":
            left.append(x)
            right.append(y)
        else:
            if x:
                left.append(f"<mark>{x}</mark>")
            if y:
                right.append(f"<mark>{y}</mark>")
    return "".join(left), "".join(right)


def _alike(a: str, b: str) -> bool:
    """Two lines close enough that marking the characters they differ in helps the eye."""
    return difflib.SequenceMatcher(None, a.strip(), b.strip(), autojunk=False).ratio() >= ALIKE_LINE


def side_by_side(a: Sequence[str], b: Sequence[str], a_start: int = 1, b_start: int = 1) -> list[DiffRow]:
    """The rows comparing lines ``a`` (numbered from ``a_start``) with lines ``b``."""
    rows: list[DiffRow] = []
    matcher = difflib.SequenceMatcher(None, list(a), list(b), autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            for k in range(i2 - i1):
                text = html.escape(a[i1 + k])
                rows.append(DiffRow("same", a_start + i1 + k, text, b_start + j1 + k, text))
            continue
        left, right = list(range(i1, i2)), list(range(j1, j2))
        for k in range(max(len(left), len(right))):
            i = left[k] if k < len(left) else None
            j = right[k] if k < len(right) else None
            if i is not None and j is not None:
                if _alike(a[i], b[j]):
                    x, y = _marked(a[i], b[j])
                    rows.append(DiffRow("changed", a_start + i, x, b_start + j, y))
                else:  # two different lines side by side: marking characters would be noise
                    rows.append(DiffRow("replaced", a_start + i, html.escape(a[i]), b_start + j, html.escape(b[j])))
            elif i is not None:
                rows.append(DiffRow("left", a_start + i, html.escape(a[i]), None, ""))
            elif j is not None:
                rows.append(DiffRow("right", None, "", b_start + j, html.escape(b[j])))
    return rows


def similarity(a: Sequence[str], b: Sequence[str]) -> float:
    """Share of lines the two functions have in common (difflib's ratio over lines)."""
    return difflib.SequenceMatcher(None, list(a), list(b), autojunk=False).ratio()


# --- page pieces ---------------------------------------------------------------------------------
def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _pct(share: float) -> str:
    return f"{100 * share:.1f}%"


def _bar(share: float) -> str:
    width = max(0.0, min(1.0, share)) * 100
    return f'<span class="bar"><span style="width:{width:.1f}%"></span></span>'


def _where(member: Mapping[str, Any]) -> str:
    return f"{member['path']}:{member['start_line']}-{member['end_line']}"


def _totals_table(title: str, key: str, rows: Mapping[str, Mapping[str, Any]], limit: int | None = None) -> str:
    ordered = sorted(rows.items(), key=lambda kv: (-kv[1]["duplicated_lines"], -kv[1]["lines"], kv[0]))
    shown, rest = (ordered[:limit], ordered[limit:]) if limit else (ordered, [])
    out = [
        f'<section class="totals"><h2>{_e(title)}</h2><table class="grid"><thead><tr><th>{_e(key)}</th>'
        "<th>functions</th><th>in clusters</th><th>lines</th><th>duplicated lines</th><th>share</th>"
        "<th>clusters</th></tr></thead><tbody>"
    ]
    for name, t in shown:
        out.append(
            f'<tr><td class="name">{_e(name)}</td><td>{t["functions"]}</td><td>{t["duplicated_functions"]}</td>'
            f"<td>{t['lines']}</td><td>{t['duplicated_lines']}</td>"
            f'<td class="share">{_bar(t["share"])} {_pct(t["share"])}</td><td>{t["clusters"]}</td></tr>'
        )
    if rest:
        lines = sum(t["lines"] for _, t in rest)
        dup = sum(t["duplicated_lines"] for _, t in rest)
        out.append(
            f'<tr class="rest"><td class="name">{len(rest)} more {_e(key)}s</td>'
            f"<td>{sum(t['functions'] for _, t in rest)}</td><td>{sum(t['duplicated_functions'] for _, t in rest)}</td>"
            f'<td>{lines}</td><td>{dup}</td><td class="share">{_pct(dup / lines if lines else 0.0)}</td><td></td></tr>'
        )
    out.append("</tbody></table></section>")
    return "".join(out)


def _comparison(left: Mapping[str, Any], right: Mapping[str, Any]) -> str:
    a_lines, b_lines = str(left["code"]).splitlines(), str(right["code"]).splitlines()
    cut = len(a_lines) > MAX_DIFF_LINES or len(b_lines) > MAX_DIFF_LINES
    a_lines, b_lines = a_lines[:MAX_DIFF_LINES], b_lines[:MAX_DIFF_LINES]
    rows = side_by_side(a_lines, b_lines, int(left["start_line"]), int(right["start_line"]))
    same = similarity(a_lines, b_lines)
    out = [
        '<div class="comparison"><div class="compare-head">'
        f'<span class="side">{_e(left["qualified_name"])} <small>{_e(_where(left))}</small></span>'
        f'<span class="ratio">{_pct(same)} of lines alike</span>'
        f'<span class="side">{_e(right["qualified_name"])} <small>{_e(_where(right))}</small></span></div>'
        '<table class="diff"><tbody>'
    ]
    for row in rows:
        left_no = "" if row.left_no is None else row.left_no
        right_no = "" if row.right_no is None else row.right_no
        out.append(
            f'<tr class="{row.kind}"><td class="no">{left_no}</td><td class="code l">{row.left}</td>'
            f'<td class="no">{right_no}</td><td class="code r">{row.right}</td></tr>'
        )
    out.append("</tbody></table>")
    if cut:
        out.append(f'<p class="note">Only the first {MAX_DIFF_LINES} lines of each function are compared.</p>')
    out.append("</div>")
    return "".join(out)


def _cluster(cluster: Mapping[str, Any], *, open_: bool) -> str:
    members = list(cluster["members"])
    reference = max(members, key=lambda m: (m["lines"], -members.index(m)))
    others = [m for m in members if m is not reference]
    search = " ".join(f"{m['path']} {m['qualified_name']}" for m in members).lower()
    number = cluster["id"]
    head = (
        f'<span class="num">#{number}</span> <span class="title">{_e(reference["qualified_name"])}</span> '
        f'<span class="facts">{cluster["functions"]} functions · {cluster["lines"]} lines · '
        f"{cluster['redundant_lines']} redundant · best score {cluster['best_score']:.2f} · "
        f"{_e(', '.join(cluster['languages']))}</span>"
    )
    out = [
        f'<details class="cluster" id="cluster-{number}" data-search="{_e(search)}"{" open" if open_ else ""}>'
        f"<summary>{head}</summary>"
        '<table class="grid members"><thead><tr><th>function</th><th>where</th><th>lines</th><th>language</th></tr>'
        "</thead><tbody>"
    ]
    for m in members:
        mark = ' class="reference"' if m is reference else ""
        out.append(
            f'<tr{mark}><td class="name">{_e(m["qualified_name"])}</td><td class="path">{_e(_where(m))}</td>'
            f"<td>{m['lines']}</td><td>{_e(m['language'])}</td></tr>"
        )
    out.append("</tbody></table>")
    for other in others[:MAX_COMPARISONS]:
        out.append(_comparison(reference, other))
    if len(others) > MAX_COMPARISONS:
        out.append(
            f'<p class="note">{len(others) - MAX_COMPARISONS} more members are listed above but not compared here.</p>'
        )
    out.append("</details>")
    return "".join(out)


_CSS = """
:root{--bg:#fff;--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--accent:#8250df;--del:#ffebe9;--ins:#dafbe1;
--chg:#fff8c5;--mark:#f9c513}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);
background:var(--bg)}header{padding:20px 28px;border-bottom:1px solid var(--line);background:#f6f8fa}
h1{margin:0 0 4px;font-size:22px}h2{font-size:17px;margin:22px 0 8px}main{padding:0 28px 40px}
.sub{color:var(--muted)}.cards{display:flex;gap:14px;flex-wrap:wrap;margin-top:14px}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 14px;background:#fff;min-width:150px}
.card b{display:block;font-size:22px}.card span{color:var(--muted);font-size:12px}
.totals{max-width:1100px}
table.grid{border-collapse:collapse;width:100%}.grid th,.grid td{border-bottom:1px solid var(--line);
padding:4px 8px;text-align:right;white-space:nowrap}.grid th:first-child,.grid td.name,.grid td.path{text-align:left}
.grid td.name,.grid td.path{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12.5px;
white-space:normal;word-break:break-all}.grid tr.rest td{color:var(--muted)}
.bar{display:inline-block;width:60px;height:8px;background:#eaeef2;border-radius:4px;vertical-align:middle}
.bar span{display:block;height:100%;background:var(--accent);border-radius:4px}
.tools{display:flex;gap:10px;align-items:center;margin:18px 0 10px}.tools input{flex:1;max-width:420px;
padding:6px 10px;border:1px solid var(--line);border-radius:6px;font:inherit}
.tools button{padding:6px 12px;border:1px solid var(--line);border-radius:6px;background:#f6f8fa;font:inherit;
cursor:pointer}.cluster{border:1px solid var(--line);border-radius:8px;margin:10px 0;background:#fff}
.cluster>summary{cursor:pointer;padding:10px 14px;background:#f6f8fa;border-radius:8px}
.cluster[open]>summary{border-bottom:1px solid var(--line);border-radius:8px 8px 0 0}
.num{color:var(--accent);font-weight:700}.title{font-family:ui-monospace,Menlo,monospace;font-weight:600}
.facts{color:var(--muted);margin-left:8px}.members{margin:8px 0}.members tr.reference td{font-weight:600}
.cluster>table,.cluster>.comparison,.cluster>.note{margin-left:14px;margin-right:14px;width:calc(100% - 28px)}
.comparison{margin:12px 14px;border:1px solid var(--line);border-radius:6px;overflow:hidden}
.compare-head{display:grid;grid-template-columns:1fr auto 1fr;gap:10px;padding:6px 10px;background:#f6f8fa;
border-bottom:1px solid var(--line);font-family:ui-monospace,Menlo,monospace;font-size:12.5px}
.compare-head .ratio{color:var(--muted);font-family:system-ui,sans-serif}.compare-head small{color:var(--muted)}
table.diff{border-collapse:collapse;width:100%;table-layout:fixed;font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace}
.diff td{padding:0 6px;vertical-align:top}.diff td.no{width:44px;color:var(--muted);text-align:right;
user-select:none;background:#f6f8fa}.diff td.code{white-space:pre-wrap;word-break:break-all}
.diff tr.changed td.code{background:var(--chg)}.diff tr.left td.l,.diff tr.replaced td.l{background:var(--del)}
.diff tr.right td.r,.diff tr.replaced td.r{background:var(--ins)}.diff mark{background:var(--mark);border-radius:2px}
.note{color:var(--muted);font-size:12px;margin:6px 14px}.hidden{display:none}
footer{color:var(--muted);font-size:12px;padding:14px 28px;border-top:1px solid var(--line)}
.empty{padding:30px;text-align:center;color:var(--muted);border:1px dashed var(--line);border-radius:8px}
"""

_JS = """
(function(){var q=document.getElementById('filter'),n=document.getElementById('shown');
var all=Array.prototype.slice.call(document.querySelectorAll('details.cluster'));
function apply(){var t=q.value.trim().toLowerCase(),k=0;all.forEach(function(d){
var hit=!t||d.getAttribute('data-search').indexOf(t)>=0;d.classList.toggle('hidden',!hit);if(hit)k++;});
n.textContent=k+' of '+all.length+' clusters';}
q.addEventListener('input',apply);
document.getElementById('open-all').addEventListener('click',function(){all.forEach(function(d){d.open=true;});});
document.getElementById('close-all').addEventListener('click',function(){all.forEach(function(d){d.open=false;});});
apply();})();
"""


def render_html(report: Mapping[str, Any]) -> str:
    """The page of one report (its ``to_dict()`` form)."""
    totals = report["totals"]
    clusters = list(report.get("clusters") or [])
    redundant = sum(c["redundant_lines"] for c in clusters)
    commit = str(report.get("commit") or "")
    stats = report.get("stats") or {}
    cards = [
        (totals["clusters"], "clusters of near-duplicates"),
        (f"{totals['duplicated_functions']} / {totals['functions']}", "functions in a cluster"),
        (f"{totals['duplicated_lines']} / {totals['lines']}", "lines in a cluster"),
        (_pct(totals["share"]), "of function lines duplicated"),
        (redundant, "lines a single copy would save"),
    ]
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'; img-src data:\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>doppel duplication report: {_e(report['repo'])}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>doppel duplication report: {_e(report['repo'])}</h1>"
        f'<div class="sub">commit <code>{_e(commit[:12])}</code> · {stats.get("functions", totals["functions"])} '
        f"functions in {stats.get('files', '?')} files searched · pairs judged by the review's verdict</div>"
        '<div class="cards">'
        + "".join(f'<div class="card"><b>{_e(value)}</b><span>{_e(label)}</span></div>' for value, label in cards)
        + "</div></header><main>",
        _totals_table("By language", "language", report.get("by_language") or {}),
        _totals_table("By directory", "directory", report.get("by_directory") or {}, MAX_DIRECTORIES),
        '<h2>Clusters</h2><div class="tools"><input id="filter" type="search" '
        'placeholder="filter by path or function name"><span id="shown"></span>'
        '<button id="open-all" type="button">expand all</button>'
        '<button id="close-all" type="button">collapse all</button></div>',
    ]
    if clusters:
        parts += [_cluster(c, open_=n < OPEN_CLUSTERS) for n, c in enumerate(clusters)]
    else:
        parts.append('<div class="empty">No near-duplicate functions found.</div>')
    if report.get("clusters_left_out"):
        parts.append(f'<p class="note">{report["clusters_left_out"]} smaller clusters are counted but not shown.</p>')
    warnings = report.get("warnings") or []
    if warnings:
        parts.append("<h2>Warnings</h2><ul>" + "".join(f"<li>{_e(w)}</li>" for w in warnings) + "</ul>")
    verdicts = report.get("verdicts") or {}
    sources = ", ".join(
        f"{_e(v.get('source', '?'))} (duplicate at {v.get('duplicate')})" for _, v in sorted(verdicts.items())
    )
    parts.append(
        f"</main><footer>Generated by doppel · verdict: {sources or 'none used'} · "
        f"{stats.get('searches', 0)} searches, {stats.get('pairs_judged', 0)} pairs judged, "
        f"{stats.get('duplicate_pairs', 0)} duplicate pairs ({stats.get('folded_pairs', 0)} folded into enclosing "
        f"functions) · {stats.get('seconds', 0)} s</footer><script>{_JS}</script></body></html>\n"
    )
    return "".join(parts)
