"""A pull request to publish findings on: files with real patches, the functions it changes, findings.

``app/billing.py`` changes ``apply_discount``'s body (its signature is context) and adds
``compute_total`` and ``format_invoice``; ``app/report.py`` is a new file with ``summarize``;
``app/big.py`` changed too much for GitHub to send a patch, so nothing in it can be anchored.
"""

from __future__ import annotations

from core.domain import CodeFunction, Finding, FindingKind, IndexedFunction, PullRef, RepoRef
from tests.factories import make_function
from tests.fakes.github.state import FakeFile, FakeGitHub
from workers.services.review import ReviewResult

SLUG = "acme/shop"
INSTALLATION = 42
NUMBER = 7
BASE = "b" * 40
HEAD = "1" * 40
ADAPTER = "minilm-l6:python@3f2a9c1d"

BILLING_PATCH = """@@ -1,7 +1,22 @@
 def apply_discount(price, rate):
     \"\"\"Apply a discount.\"\"\"
-    return price - price * rate
+    discounted = price * (1 - rate)
+    return round(discounted, 2)
 
 
 def tax(amount):
     return amount * 0.2
+
+
+def compute_total(items):
+    total = 0
+    for item in items:
+        total += item.price * item.qty
+    return total
+
+
+def format_invoice(lines):
+    out = []
+    for line in lines:
+        out.append(str(line))
+    return "\\n".join(out)"""

REPORT_PATCH = """@@ -0,0 +1,5 @@
+def summarize(rows):
+    out = []
+    for row in rows:
+        out.append(str(row))
+    return "\\n".join(out)"""

FILES = [
    FakeFile("app/billing.py", BILLING_PATCH),
    FakeFile("app/report.py", REPORT_PATCH, status="added"),
    FakeFile("app/big.py", None),
]

APPLY_DISCOUNT = make_function(
    "def apply_discount(price, rate):\n    discounted = price * (1 - rate)\n    return round(discounted, 2)\n",
    path="app/billing.py",
    start_line=1,
    docstring="Apply a discount.",
)
COMPUTE_TOTAL = make_function(
    "def compute_total(items):\n    total = 0\n    for item in items:\n        total += item.price * item.qty\n    return total\n",
    path="app/billing.py",
    start_line=11,
)
FORMAT_INVOICE = make_function(
    'def format_invoice(lines):\n    out = []\n    for line in lines:\n        out.append(str(line))\n    return "\\n".join(out)\n',
    path="app/billing.py",
    start_line=18,
)
SUMMARIZE = make_function(
    'def summarize(rows):\n    out = []\n    for row in rows:\n        out.append(str(row))\n    return "\\n".join(out)\n',
    path="app/report.py",
    start_line=1,
)
BIG = make_function("def crunch(data):\n    a = 1\n    return a\n", path="app/big.py", start_line=400)

# Where each changed function's inline comment belongs.
EXPECTED_LINES = {
    "apply_discount": ("app/billing.py", 3),  # signature unchanged: first added line
    "compute_total": ("app/billing.py", 11),  # signature added
    "format_invoice": ("app/billing.py", 18),
    "summarize": ("app/report.py", 1),
}


def target(path: str, name: str, start: int = 10, end: int = 24, *, commit: str = BASE) -> IndexedFunction:
    code = f"def {name}(xs):\n" + "".join(f"    step_{i} = xs\n" for i in range(end - start - 1)) + "    return xs\n"
    return IndexedFunction(
        repo=SLUG, language="python", path=path, qualified_name=name, start_line=start, end_line=end,
        commit=commit, body_hash=f"h-{name}", adapter_version=ADAPTER, code=code,
    )  # fmt: skip


def finding(fn: CodeFunction, tgt: IndexedFunction, score: float, kind: FindingKind = FindingKind.DUPLICATE) -> Finding:
    return Finding(
        kind=kind, function=fn, target=tgt, score=score, embedding_score=min(1.0, score + 0.02),
        lexical_score=score - 0.05, adapter_version=ADAPTER,
    )  # fmt: skip


DUP_APPLY = finding(APPLY_DISCOUNT, target("lib/money.py", "discount"), 0.91)
DUP_TOTAL = finding(COMPUTE_TOTAL, target("lib/cart.py", "cart_total"), 0.95)
DUP_FORMAT = finding(FORMAT_INVOICE, target("lib/text.py", "join_lines"), 0.93)
DUP_SUMMARIZE = finding(SUMMARIZE, target("lib/report.py", "summary"), 0.92)
DUP_BIG = finding(BIG, target("lib/math.py", "crunch_numbers"), 0.94)
RELATED_TOTAL = finding(COMPUTE_TOTAL, target("lib/stats.py", "sum_values", 3, 9), 0.84, FindingKind.RELATED)
INTRA = finding(FORMAT_INVOICE, target("app/report.py", "summarize", 1, 5, commit=HEAD), 0.9, FindingKind.INTRA_PR)

INLINE_FINDINGS = [DUP_APPLY, DUP_TOTAL, DUP_FORMAT, DUP_SUMMARIZE]
ALL_FINDINGS = [*INLINE_FINDINGS, DUP_BIG, RELATED_TOTAL, INTRA]


def result(findings: list[Finding], *, head: str = HEAD, warnings: list[str] | None = None) -> ReviewResult:
    """A ``ReviewResult`` of this pull request at ``head`` holding ``findings``."""
    changed = list({(f.function.path, f.function.qualified_name): f.function for f in findings}.values())
    return ReviewResult(
        repo=RepoRef(SLUG, INSTALLATION), base=BASE, head=head, changed=changed, findings=list(findings),
        warnings=warnings or [],
    )  # fmt: skip


def pull_ref(head: str = HEAD) -> PullRef:
    return PullRef(repo=RepoRef(SLUG, INSTALLATION), number=NUMBER, head_sha=head, base_sha=BASE)


def arrange(
    state: FakeGitHub, *, bot_token: str = "ghs_test_installation_token", bot_login: str = "doppel[bot]"
) -> None:
    """The repository, the pull request and the bot's token in ``state``."""
    state.add_token(bot_token, bot_login, "Bot")
    state.add_token("ghp_alice", "alice")
    state.add_repo(SLUG, installation_id=INSTALLATION, permissions={"alice": "write"})
    state.add_pull(
        SLUG, NUMBER, head_sha=HEAD, base_sha=BASE, files=[FakeFile(f.path, f.patch, f.status) for f in FILES]
    )
