"""Synthetic clones and edits of a function: the one clone-mutation engine of doppel.

Used to measure the near-duplicate verdict (``benchmarks/bench_clone_recall.py``, the synthetic
mode of ``benchmarks/bench_real_edits.py``) and to make code→code training pairs. Each
transformation works on the tree-sitter tree of the function and edits its text by byte ranges,
so what it produces is still the same language. Two families of ``CloneKind``:

* what a copy looks like (``COPY_KINDS``): ``reformatted`` (layout only), ``renamed`` (parameters,
  locals and the function's own name renamed consistently; members, keyword-argument names and
  globals stay) and ``renamed_edited`` (renamed, then 1–3 statements inserted, deleted or altered);
* what the same function looks like a commit later (``EDIT_KINDS``), made on the original and
  never renamed: ``added_parameter`` (a new parameter, used once), ``type_hints`` (Python
  annotations), ``changed_branch`` (an ``if`` condition tightened, or its branches swapped under
  ``not``), ``extracted_helper`` (an assignment's right-hand side moved into a helper),
  ``reordered`` (two adjacent independent statements swapped) and ``equivalent_calls``
  (``d.get(k, None)`` → ``d.get(k)``, ``len(x) == 0`` → ``not x``, ``indexOf(y) !== -1`` →
  ``includes(y)`` …).

Everything is deterministic for a given seed. Python is handled with care (its output parses);
other languages are best effort (renaming, literals, deletions, reordering and spacing work on
any grammar; insertions, new parameters and equivalent calls use per-language templates; an edit
kind with nothing to edit returns the code unchanged). ``training_clone`` adds a text rewrite
for the renamed kinds where the tree-sitter clone fails.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tree_sitter

    from core.domain import CodeFunction

log = logging.getLogger(__name__)


class CloneKind(StrEnum):
    REFORMATTED = "reformatted"  # layout only
    RENAMED = "renamed"  # consistent renaming of locals, parameters and the function
    RENAMED_EDITED = "renamed_edited"  # renamed, then 1–3 statements inserted, deleted or changed
    # Edits that real changes resemble (a function at two commits), made on the original, not renamed:
    ADDED_PARAMETER = "added_parameter"  # a new parameter (with a default where there are defaults), used once
    TYPE_HINTS = "type_hints"  # annotations on parameters and the return (Python)
    CHANGED_BRANCH = "changed_branch"  # an if's condition tightened, or its branches swapped under `not`
    EXTRACTED_HELPER = "extracted_helper"  # an assignment's right-hand side moved into a helper before it
    REORDERED = "reordered"  # two adjacent independent statements swapped
    EQUIVALENT_CALLS = "equivalent_calls"  # a call or test spelled another, equivalent way


# What copies look like (the clone benchmarks' kinds) and what one function's next version looks like.
COPY_KINDS = (CloneKind.REFORMATTED, CloneKind.RENAMED, CloneKind.RENAMED_EDITED)
EDIT_KINDS = (
    CloneKind.ADDED_PARAMETER,
    CloneKind.TYPE_HINTS,
    CloneKind.CHANGED_BRANCH,
    CloneKind.EXTRACTED_HELPER,
    CloneKind.REORDERED,
    CloneKind.EQUIVALENT_CALLS,
)
# Code→code training pairs: the renamed copies and every edit (reformatting alone teaches nothing
# a tokenizer does not already undo).
TRAINING_KINDS = (CloneKind.RENAMED, CloneKind.RENAMED_EDITED, *EDIT_KINDS)


@dataclass(frozen=True)
class Clone:
    """A synthetic copy: its code and the operations that made it (for debugging a benchmark)."""

    kind: CloneKind
    code: str
    operations: tuple[str, ...]


# Names a developer might pick for a copied variable; none is a keyword in a supported language.
_VOCABULARY = (
    "item",
    "value",
    "entry",
    "elem",
    "node",
    "data",
    "result",
    "acc",
    "tmp",
    "cur",
    "obj",
    "record",
    "payload",
    "chunk",
    "part",
    "token",
    "target",
    "source",
    "key",
    "idx",
    "pos",
    "total",
    "count",
    "size",
    "limit",
    "flag",
    "state",
    "ctx",
    "buf",
    "text",
    "label",
    "spec",
    "info",
    "meta",
    "current",
    "output",
    "values",
    "items",
    "entries",
    "parts",
    "seen",
    "found",
    "start",
    "stop",
    "offset",
    "width",
)
_NEVER_RENAME = frozenset({"self", "cls", "this", "super", "_"})
_PYTHON_PATTERNS = frozenset(
    {"pattern_list", "tuple_pattern", "list_pattern", "list_splat_pattern", "parenthesized_expression"}
)
_DECLARATION_FIELDS = ("name", "left", "pattern", "declarator")
_MEMBER_ACCESS = frozenset({".", "->", "::", "?."})
_STATEMENT_CONTAINERS = frozenset(
    {"block", "compound_statement", "statement_block", "constructor_body", "body_statement"}
)
_OPERATOR_FLIPS = {
    "+": "-",
    "-": "+",
    "<": "<=",
    "<=": "<",
    ">": ">=",
    ">=": ">",
    "==": "!=",
    "!=": "==",
    "and": "or",
    "or": "and",
    "&&": "||",
    "||": "&&",
    "*": "//",
    "//": "*",
}
_INSERT_TEMPLATES: dict[str, tuple[str, ...]] = {
    "python": (
        'logger.debug("{word}: %r", {v})',
        "assert {v} is not None",
        "print({v})",
        "{new} = len({v})",
        "if {v} is None:\n{indent}    raise ValueError({quote}{word}{quote})",
    ),
    "javascript": ("console.log({v});", "if ({v} == null) {{ return null; }}"),
    "typescript": ("console.log({v});", "if ({v} == null) {{ return null; }}"),
    "tsx": ("console.log({v});",),
    "java": ("System.out.println({v});", "Objects.requireNonNull({v});"),
    "csharp": ("Console.WriteLine({v});",),
    "go": ("fmt.Println({v})", "_ = {v}"),
    "rust": ('println!("{{:?}}", {v});',),
    "c": ("assert({v});",),
    "cpp": ("assert({v});",),
    "ruby": ("puts {v}",),
}
_ATOMIC = ("string", "comment", "char", "regex", "lifetime")
_SPACED_OPERATORS = frozenset({b"=", b"==", b"!=", b"<=", b">=", b"+=", b"-=", b":=", b"and", b"or"})
_DECIMAL = re.compile(r"\d+")
_WORD = re.compile(r"[A-Za-z]{2,}")


# --- tree helpers --------------------------------------------------------------------------------
def _parse(language: str, data: bytes) -> tree_sitter.Tree:
    from embedding.extract import parse  # tree-sitter: imported on use

    return parse(language, data)


def _walk(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def _function_node(tree: tree_sitter.Tree) -> tree_sitter.Node:
    """The function the code defines: the first named node below the root that has a body."""
    for node in _walk(tree.root_node):
        if node.child_by_field_name("body") is not None and node.child_by_field_name("name") is not None:
            return node
    return tree.root_node


def _text(node: tree_sitter.Node) -> str:
    return (node.text or b"").decode("utf-8", "replace")


def _apply(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    """Replace byte ranges (start, end, new); overlapping edits are dropped, later ones first."""
    out = data
    last_start = len(data) + 1
    for start, end, new in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        if end > last_start:
            continue
        out = out[:start] + new + out[end:]
        last_start = start
    return out


def _line_start(data: bytes, offset: int) -> int:
    return data.rfind(b"\n", 0, offset) + 1


def _indent_of(data: bytes, offset: int) -> bytes:
    start = _line_start(data, offset)
    line = data[start:offset]
    return line if not line.strip() else line[: len(line) - len(line.lstrip())]


def _is_member_name(node: tree_sitter.Node) -> bool:
    """``attr`` in ``obj.attr`` / ``obj->attr`` / ``A::attr``, or a keyword-argument name."""
    previous = node.prev_sibling
    if previous is not None and _text(previous) in _MEMBER_ACCESS:
        return True
    parent = node.parent
    if parent is None:
        return False
    if parent.type == "keyword_argument" and parent.child_by_field_name("name") == node:
        return True
    return parent.type in ("attribute", "field_access") and parent.child_by_field_name("object") != node


# --- renaming ------------------------------------------------------------------------------------
def _python_bindings(function: tree_sitter.Node) -> set[str]:
    names: set[str] = set()
    params = function.child_by_field_name("parameters")
    if params is not None:
        for param in params.named_children:
            target = param if param.type == "identifier" else param.child_by_field_name("name")
            if target is None:  # typed_parameter, *args, **kwargs: the first identifier child
                target = next((c for c in param.named_children if c.type == "identifier"), None)
            if target is not None and target.type == "identifier":
                names.add(_text(target))
    for node in _walk(function):
        targets: list[tree_sitter.Node] = []
        if node.type in ("assignment", "augmented_assignment", "for_statement", "for_in_clause"):
            left = node.child_by_field_name("left")
            targets = [left] if left is not None else []
        elif node.type == "as_pattern_target" or (node.type == "named_expression"):
            targets = [node.child_by_field_name("name") or node]
        for target in targets:
            for sub in _walk(target):
                parent_type = sub.parent.type if sub.parent is not None else ""
                if sub.type == "identifier" and (sub == target or parent_type in _PYTHON_PATTERNS | {target.type}):
                    names.add(_text(sub))
    return names


def _generic_bindings(function: tree_sitter.Node) -> set[str]:
    names: set[str] = set()
    for node in _walk(function):
        subtrees: list[tree_sitter.Node] = []
        if "parameter" in node.type:
            subtrees = [c for c in node.children if node.field_name_for_child(node.children.index(c)) != "type"]
        elif any(word in node.type for word in ("declarator", "declaration", "assignment", "let_")):
            subtrees = [c for f in _DECLARATION_FIELDS if (c := node.child_by_field_name(f)) is not None]
        for subtree in subtrees:
            for sub in _walk(subtree):
                if sub.type == "identifier" and not _is_member_name(sub):
                    names.add(_text(sub))
    return names


def _new_name(old: str, rng: random.Random, taken: set[str]) -> str:
    candidates = [w for w in _VOCABULARY if w not in taken]
    choice = rng.random()
    if choice < 0.5 and candidates:
        name = rng.choice(candidates)
    elif choice < 0.75:
        name = f"{rng.choice(('new', 'my', 'the', 'local'))}_{old.strip('_') or 'v'}"
    else:
        name = f"{old.rstrip('_0123456789') or 'v'}{rng.randint(2, 9)}"
    while name in taken:
        name = f"{name}_{rng.randint(0, 9)}"
    return name


def rename_identifiers(
    language: str, code: str, rng: random.Random, *, rename_function: bool = True
) -> tuple[str, list[str]]:
    """Consistently rename parameters and locals (and the function's name when asked)."""
    data = code.encode("utf-8")
    function = _function_node(_parse(language, data))
    bindings = _python_bindings(function) if language == "python" else _generic_bindings(function)
    bindings -= _NEVER_RENAME
    name_node = function.child_by_field_name("name")
    if rename_function and name_node is not None and name_node.type == "identifier":
        bindings.add(_text(name_node))
    taken = {_text(n) for n in _walk(function) if "identifier" in n.type}
    mapping: dict[str, str] = {}
    for old in sorted(bindings):
        mapping[old] = _new_name(old, rng, taken)
        taken.add(mapping[old])
    edits = []
    for node in _walk(function):
        if node.type == "identifier" and _text(node) in mapping and not _is_member_name(node):
            if node == name_node and not rename_function:
                continue
            edits.append((node.start_byte, node.end_byte, mapping[_text(node)].encode()))
    operations = [f"rename {old}->{new}" for old, new in mapping.items()]
    return _apply(data, edits).decode("utf-8"), operations


# --- literals ------------------------------------------------------------------------------------
def _literal_edit(node: tree_sitter.Node, rng: random.Random) -> tuple[int, int, bytes] | None:
    text = _text(node)
    if node.child_count == 0 and any(k in node.type for k in ("integer", "int_literal", "number")):
        if _DECIMAL.fullmatch(text):
            value = int(text)
            new = value + rng.randint(1, 9) if rng.random() < 0.7 else value * 2 + 1
            return node.start_byte, node.end_byte, str(new).encode()
        return None
    if node.child_count == 0 and node.type in (
        "string_content",
        "string_fragment",
        "interpreted_string_literal_content",
    ):
        words = _WORD.findall(text)
        if words and rng.random() < 0.7:
            old = rng.choice(words)
            new_text = text.replace(old, rng.choice(_VOCABULARY), 1)
        else:
            new_text = text + rng.choice((" now", " here", "!", " again"))
        return node.start_byte, node.end_byte, new_text.encode()
    return None


def change_literals(language: str, code: str, rng: random.Random, *, count: int = 1) -> tuple[str, list[str]]:
    """Change up to ``count`` number or string literals (never a docstring: ``code`` has none)."""
    data = code.encode("utf-8")
    function = _function_node(_parse(language, data))
    candidates = [edit for node in _walk(function) if (edit := _literal_edit(node, rng)) is not None]
    chosen = rng.sample(candidates, min(count, len(candidates)))
    operations = [f"literal {data[s:e].decode('utf-8', 'replace')!r}->{new.decode()!r}" for s, e, new in chosen]
    return _apply(data, chosen).decode("utf-8"), operations


# --- statements ----------------------------------------------------------------------------------
def _statements(function: tree_sitter.Node, data: bytes) -> list[tree_sitter.Node]:
    """Single-line statements that sit alone at the start of their line, inside a block."""
    out = []
    for node in _walk(function):
        parent = node.parent
        if parent is None or parent.type not in _STATEMENT_CONTAINERS or not node.is_named:
            continue
        if "comment" in node.type or node.start_point.row != node.end_point.row:
            continue
        if data[_line_start(data, node.start_byte) : node.start_byte].strip():
            continue
        out.append(node)
    return out


def _delete(node: tree_sitter.Node, data: bytes, already_deleted: int = 0) -> tuple[int, int, bytes] | None:
    if node.parent is None:
        return None
    siblings = [c for c in node.parent.named_children if "comment" not in c.type]
    if len(siblings) - already_deleted < 2:
        return None  # an empty block would not parse
    start = _line_start(data, node.start_byte)
    end = data.find(b"\n", node.end_byte)
    end = len(data) if end < 0 else end + 1
    if data[node.end_byte : end].strip():
        return None  # something else shares the line
    return start, end, b""


def _insert(
    language: str, node: tree_sitter.Node, data: bytes, names: list[str], rng: random.Random
) -> tuple[int, int, bytes] | None:
    templates = _INSERT_TEMPLATES.get(language)
    if not templates or not names:
        return None
    indent = _indent_of(data, node.start_byte).decode()
    line = rng.choice(templates).format(
        v=rng.choice(names),
        new=rng.choice(_VOCABULARY) + "_n",
        word=rng.choice(_VOCABULARY),
        indent=indent,
        quote='"',
    )
    start = _line_start(data, node.start_byte)
    return start, start, f"{indent}{line}\n".encode()


def _modify(node: tree_sitter.Node, rng: random.Random) -> tuple[int, int, bytes] | None:
    edits = []
    for sub in _walk(node):
        if (
            sub.child_count == 0
            and not sub.is_named
            and _text(sub) in _OPERATOR_FLIPS
            and sub.parent is not None
            and sub.parent.type
            in (
                "binary_operator",
                "comparison_operator",
                "boolean_operator",
                "binary_expression",
            )
        ):
            edits.append((sub.start_byte, sub.end_byte, _OPERATOR_FLIPS[_text(sub)].encode()))
        elif (lit := _literal_edit(sub, rng)) is not None:
            edits.append(lit)
    return rng.choice(edits) if edits else None


def edit_statements(language: str, code: str, rng: random.Random, *, count: int = 1) -> tuple[str, list[str]]:
    """Insert, delete or alter ``count`` statements (fewer when the function has too few)."""
    data = code.encode("utf-8")
    function = _function_node(_parse(language, data))
    statements = _statements(function, data)
    names = sorted(
        (_python_bindings(function) if language == "python" else _generic_bindings(function)) - _NEVER_RENAME
    )
    edits: list[tuple[int, int, bytes]] = []
    operations: list[str] = []
    used: set[int] = set()
    deleted: dict[int, int] = {}  # block start byte → statements deleted from it
    for node in rng.sample(statements, len(statements)):
        if len(edits) >= count:
            break
        if node.start_byte in used:
            continue
        for action in rng.sample(("insert", "delete", "modify"), 3):
            if action == "insert":
                edit = _insert(language, node, data, names, rng)
            elif action == "delete":
                block = node.parent.start_byte if node.parent is not None else -1
                edit = _delete(node, data, deleted.get(block, 0))
                if edit is not None:
                    deleted[block] = deleted.get(block, 0) + 1
            else:
                edit = _modify(node, rng)
            if edit is not None:
                edits.append(edit)
                used.add(node.start_byte)
                operations.append(f"{action} line {node.start_point.row + 1}")
                break
    return _apply(data, edits).decode("utf-8"), operations


# --- layout --------------------------------------------------------------------------------------
def _tokens(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    """Leaves in order, with strings, characters, regexes, lifetimes and comments kept whole."""
    if node.child_count == 0 or any(k in node.type for k in _ATOMIC):
        if node.end_byte > node.start_byte:
            yield node
        return
    for child in node.children:
        yield from _tokens(child)


def _wordish(char: int) -> bool:
    return chr(char).isalnum() or char in b"_$@"


def _separator(a: bytes, b: bytes, gap: int, style: str, rng: random.Random) -> bytes:
    """Whitespace between two tokens on one line under a spacing style.

    Spaces between two word-like tokens or two punctuation tokens are never removed (``- -x``
    must not become ``--x``, ``1 .real`` not ``1.real``).
    """
    must_space = gap > 0 and (_wordish(a[-1]) == _wordish(b[0]) or (a[-1:].isdigit() and b[:1] == b"."))
    if b[:1] in (b"#", b"/") and gap:  # keep comments apart from code
        return b"  " if style == "loose" else b" "
    if style == "tight":
        return b" " if must_space else b""
    if style == "loose":
        if a in _SPACED_OPERATORS or b in _SPACED_OPERATORS or a == b",":
            return b" "
        return b" " if must_space or (gap and b not in (b",", b")", b"]", b":")) else b""
    return b" " * max(int(must_space), gap + rng.choice((-1, 0, 0, 1)))


def reformat(language: str, code: str, rng: random.Random) -> tuple[str, list[str]]:
    """Re-space tokens within lines, break lines after commas in brackets, add blank lines.

    Lines inside multi-line tokens or ending in ``\\`` are kept verbatim, and so is everything
    when the code does not parse cleanly.
    """
    data = code.encode("utf-8")
    tree = _parse(language, data)
    rows = data.split(b"\n")
    leaves = list(_tokens(tree.root_node))
    frozen: set[int] = {i for i, row in enumerate(rows) if row.rstrip().endswith(b"\\")}
    by_row: dict[int, list[tuple[tree_sitter.Node, int]]] = {}
    # Inside brackets a line break is free (Python's implicit joining; other languages: only
    # parentheses and brackets, since a brace there opens a block).
    openers, closers = (
        ({b"(", b"[", b"{"}, {b")", b"]", b"}"}) if language == "python" else ({b"(", b"["}, {b")", b"]"})
    )
    depth = 0
    for leaf in leaves:
        text = leaf.text or b""
        depth -= text in closers
        if leaf.start_point.row != leaf.end_point.row:
            frozen.update(range(leaf.start_point.row, leaf.end_point.row + 1))
        by_row.setdefault(leaf.start_point.row, []).append((leaf, depth))
        depth += text in openers
    style = rng.choice(("tight", "loose", "noisy"))
    break_rate = rng.choice((0.0, 0.3, 0.7))
    blank_rate = rng.choice((0.0, 0.15, 0.3))
    out_rows: list[bytes] = []
    for r, row in enumerate(rows):
        tokens = by_row.get(r, [])
        if r in frozen or not tokens or tree.root_node.has_error:
            out_rows.append(row)
            continue
        indent = row[: len(row) - len(row.lstrip())]
        pieces = [indent]
        for i, (tok, tok_depth) in enumerate(tokens):
            b = tok.text or b""
            if i > 0:
                prev = tokens[i - 1][0]
                a = prev.text or b""
                if a == b"," and tok_depth > 0 and "comment" not in tok.type and rng.random() < break_rate:
                    pieces.append(b"\n" + indent + b"        ")
                else:
                    pieces.append(_separator(a, b, tok.start_byte - prev.end_byte, style, rng))
            pieces.append(b)
        out_rows.append(b"".join(pieces))
        if 0 < r < len(rows) - 1 and rng.random() < blank_rate:
            out_rows.append(b"")
    out = b"\n".join(out_rows)
    if out == data and len(rows) > 1 and 0 not in frozen:
        out = b"\n".join([rows[0], b"", *rows[1:]])  # layout that happened to stay put: one blank line
    return out.decode("utf-8"), [f"reformat {style} breaks={break_rate} blanks={blank_rate}"]


# --- edits that real changes resemble ------------------------------------------------------------
# What a function looks like one commit later, rather than what a copy looks like: a parameter
# added (and used), type hints added, a branch changed, a helper extracted, independent
# statements reordered, a library call swapped for an equivalent one. None of these renames.
_BLOCKS = frozenset({*_STATEMENT_CONTAINERS, "statement_list"})  # Go keeps statements in a statement_list
_NULL = {"go": "nil", "ruby": "nil", "c": "NULL", "cpp": "nullptr", "rust": "None", "php": "null"}
_AND = {"python": "and", "ruby": "&&"}
# New parameters: (name, parameter text, use) per language; ``{v}`` is an existing name, ``{i}``
# the indent of the body's first statement.
_NEW_PARAMETERS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "python": (
        ("strict", "strict=False", 'if strict and {v} is None:\n{i}    raise ValueError("{v} is required")'),
        ("verbose", "verbose=False", 'if verbose:\n{i}    print("{v}:", {v})'),
        ("default", "default=None", "if {v} is None:\n{i}    {v} = default"),
    ),
    "javascript": (("options", "options = {{}}", "if (options.verbose) {{ console.log({v}); }}"),),
    "typescript": (("verbose", "verbose: boolean = false", "if (verbose) {{ console.log({v}); }}"),),
    "tsx": (("verbose", "verbose: boolean = false", "if (verbose) {{ console.log({v}); }}"),),
    "java": (("verbose", "boolean verbose", "if (verbose) {{ System.out.println({v}); }}"),),
    "csharp": (("verbose", "bool verbose = false", "if (verbose) {{ Console.WriteLine({v}); }}"),),
    "go": (("verbose", "verbose bool", "if verbose {{\n{i}\tfmt.Println({v})\n{i}}}"),),
    "rust": (("verbose", "verbose: bool", 'if verbose {{ println!("{{:?}}", {v}); }}'),),
    "c": (("verbose", "int verbose", 'if (verbose) {{ fprintf(stderr, "{v}\\n"); }}'),),
    "cpp": (("verbose", "bool verbose = false", 'if (verbose) {{ std::cerr << "{v}" << std::endl; }}'),),
    "php": (("verbose", "$verbose = false", "if ($verbose) {{ echo ${v}; }}"),),
    "ruby": (("verbose", "verbose = false", "puts {v} if verbose"),),
}
_HINT_BY_NAME = (
    (re.compile(r"(^|_)(path|name|text|line|prefix|suffix|key|url|label|message|msg|s)$"), "str"),
    (re.compile(r"(^|_)(n|i|j|k|count|size|index|idx|limit|offset|width|height|depth|level|num)$"), "int"),
    (re.compile(r"^(is|has|should|use|allow)_|(^|_)(flag|strict|verbose|force|enabled)$"), "bool"),
    (re.compile(r"(items|values|names|lines|parts|args|paths|keys|entries)$"), "list"),
    (re.compile(r"(^|_)(data|raw|buf|payload)$"), "bytes"),
    (re.compile(r"(^|_)(options|config|mapping|kwargs|attrs|headers|params)$"), "dict"),
)


def _walk_own(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    """Nodes of ``node``'s body that belong to it, not to a function or class nested in it."""
    stack = list(reversed(node.children))
    while stack:
        current = stack.pop()
        yield current
        if current.child_by_field_name("body") is not None and current.child_by_field_name("name") is not None:
            continue  # a nested definition: its statements are not ours
        if current.type in ("lambda", "arrow_function", "function_expression", "closure_expression"):
            continue
        stack.extend(reversed(current.children))


def _own_statements(function: tree_sitter.Node, data: bytes) -> list[tree_sitter.Node]:
    """Single-line statements alone on their line, in blocks of the function itself."""
    out = []
    for node in _walk_own(function):
        parent = node.parent
        if parent is None or parent.type not in _BLOCKS or not node.is_named or "comment" in node.type:
            continue
        if (
            node.start_point.row != node.end_point.row
            or data[_line_start(data, node.start_byte) : node.start_byte].strip()
        ):
            continue
        end = data.find(b"\n", node.end_byte)
        if data[node.end_byte : len(data) if end < 0 else end].strip():
            continue
        out.append(node)
    return out


def _names_in(node: tree_sitter.Node) -> set[str]:
    return {_text(n) for n in _walk(node) if n.type == "identifier" and not _is_member_name(n)}


def _bindings(language: str, function: tree_sitter.Node) -> list[str]:
    found = _python_bindings(function) if language == "python" else _generic_bindings(function)
    return sorted(found - _NEVER_RENAME - {_text(n) for n in [function.child_by_field_name("name")] if n})


def _first_statement(function: tree_sitter.Node) -> tree_sitter.Node | None:
    body = function.child_by_field_name("body")
    if body is None:
        return None
    if body.type == "statement_block" or body.child_count and _text(body.children[0]) == "{":
        inner = [c for c in body.named_children if "comment" not in c.type]
        if inner and inner[0].type == "statement_list":
            inner = [c for c in inner[0].named_children if "comment" not in c.type]
        return inner[0] if inner else None
    statements = [c for c in body.named_children if "comment" not in c.type]
    return statements[0] if statements else None


def add_parameter(language: str, code: str, rng: random.Random) -> tuple[str, list[str]]:
    """A new parameter with a default (where the language has defaults), used once at the top of the body."""
    options = _NEW_PARAMETERS.get(language)
    data = code.encode("utf-8")
    function = _function_node(_parse(language, data))
    params = function.child_by_field_name("parameters")
    if not options or params is None or _text(params)[-1:] != ")":
        return code, []
    taken = {_text(n) for n in _walk(function) if "identifier" in n.type}
    choices = [o for o in options if o[0] not in taken and f"${o[0]}" not in taken]
    if not choices:
        return code, []
    name, param, use = rng.choice(choices)
    param = param.replace("{{}}", "{}")
    # Python: before **kwargs (a parameter may not follow it); elsewhere at the end.
    splat = next((c for c in params.named_children if c.type == "dictionary_splat_pattern"), None)
    inner = [c for c in params.named_children if "comment" not in c.type]
    if splat is not None:
        edits = [(splat.start_byte, splat.start_byte, f"{param}, ".encode())]
    elif inner:
        edits = [(inner[-1].end_byte, inner[-1].end_byte, f", {param}".encode())]
    else:
        edits = [(params.end_byte - 1, params.end_byte - 1, param.encode())]
    operations = [f"parameter {name}"]
    first = _first_statement(function)
    # Only parameters are sure to be bound at the top of the body.
    names = sorted(set(_bindings(language, function)) & _names_in(params))
    if language == "php":
        names = [n.lstrip("$") for n in names]
    if first is not None and names and first.start_point.row != function.start_point.row:
        indent = _indent_of(data, first.start_byte).decode()
        line = use.format(v=rng.choice(names), i=indent)
        start = _line_start(data, first.start_byte)
        edits.append((start, start, f"{indent}{line}\n".encode()))
        operations.append(f"use {name}")
    return _apply(data, edits).decode("utf-8"), operations


def _hint(name: str, default: tree_sitter.Node | None) -> str:
    if default is not None:
        kind = default.type
        text = _text(default)
        if kind == "integer":
            return "int"
        if kind == "float":
            return "float"
        if kind in ("true", "false"):
            return "bool"
        if kind in ("string", "concatenated_string"):
            return "bytes" if text[:1] in "bB" else "str"
        if kind == "none":
            inner = _hint(name, None)
            return f"{inner} | None" if inner != "Any" else "Any | None"
        if kind in ("list", "tuple", "dictionary", "set"):
            return {"list": "list", "tuple": "tuple", "dictionary": "dict", "set": "set"}[kind]
    for pattern, hint in _HINT_BY_NAME:
        if pattern.search(name):
            return hint
    return "Any"


def add_type_hints(language: str, code: str, rng: random.Random) -> tuple[str, list[str]]:
    """Python: annotations on unannotated parameters (guessed from defaults and names) and a return type."""
    if language != "python":
        return code, []
    data = code.encode("utf-8")
    function = _function_node(_parse(language, data))
    params = function.child_by_field_name("parameters")
    if params is None:
        return code, []
    edits: list[tuple[int, int, bytes]] = []
    operations: list[str] = []
    for param in params.named_children:
        if param.type == "identifier" and _text(param) not in ("self", "cls"):
            hint = _hint(_text(param), None)
            edits.append((param.end_byte, param.end_byte, f": {hint}".encode()))
            operations.append(f"hint {_text(param)}: {hint}")
        elif param.type == "default_parameter":
            name, value = param.child_by_field_name("name"), param.child_by_field_name("value")
            if name is None or value is None:
                continue
            hint = _hint(_text(name), value)
            edits.append((param.start_byte, param.end_byte, f"{_text(name)}: {hint} = {_text(value)}".encode()))
            operations.append(f"hint {_text(name)}: {hint}")
    if function.child_by_field_name("return_type") is None and (colon := _colon_after(params)) is not None:
        returns = [n for n in _walk_own(function) if n.type == "return_statement" and n.named_child_count]
        yields = any(n.type == "yield" for n in _walk_own(function))
        hint = "Iterator[Any]" if yields else ("None" if not returns else rng.choice(("Any", "object")))
        edits.append((colon, colon, f" -> {hint}".encode()))
        operations.append(f"returns {hint}")
    if len(edits) > 1 and rng.random() < 0.3:  # a partial annotation pass, as people do
        edits = edits[: rng.randint(1, len(edits) - 1)]
        operations = operations[: len(edits)]
    return _apply(data, edits).decode("utf-8"), operations


def _colon_after(params: tree_sitter.Node) -> int | None:
    sibling = params.next_sibling
    return params.end_byte if sibling is not None and _text(sibling) == ":" else None


def _if_nodes(function: tree_sitter.Node) -> list[tree_sitter.Node]:
    return [n for n in _walk_own(function) if n.type in ("if_statement", "if", "if_expression")]


def change_branch(language: str, code: str, rng: random.Random) -> tuple[str, list[str]]:
    """One ``if``: its branches swapped under the negated condition (Python, an ``if``/``else``),
    or its condition tightened with a check on one of the function's names."""
    data = code.encode("utf-8")
    function = _function_node(_parse(language, data))
    candidates = [n for n in _if_nodes(function) if n.child_by_field_name("condition") is not None]
    names = _bindings(language, function)
    if not candidates:
        return code, []
    node = rng.choice(candidates)
    condition = node.child_by_field_name("condition")
    assert condition is not None
    text = _text(condition)
    if language == "python":
        alternative = node.child_by_field_name("alternative")
        consequence = node.child_by_field_name("consequence")
        if (
            alternative is not None
            and alternative.type == "else_clause"
            and consequence is not None
            and (other := alternative.child_by_field_name("body")) is not None
            and consequence.start_point.row != node.start_point.row
            and other.start_point.row != alternative.start_point.row
            and rng.random() < 0.6
        ):
            # Both bodies sit on their own lines at one indent: swap them whole.
            a = (_line_start(data, consequence.start_byte), consequence.end_byte)
            b = (_line_start(data, other.start_byte), other.end_byte)
            edits = [
                (condition.start_byte, condition.end_byte, f"not ({text})".encode()),
                (a[0], a[1], data[b[0] : b[1]]),
                (b[0], b[1], data[a[0] : a[1]]),
            ]
            return _apply(data, edits).decode("utf-8"), [f"invert if line {node.start_point.row + 1}"]
    if not names:
        return code, []
    v = rng.choice(names)
    if language == "php":
        v = v if v.startswith("$") else f"${v}"
    if language == "python":
        inner = f"({text})" if any(w in text.split() for w in ("or", "if", "lambda")) else text
        extra = rng.choice((f"{inner} and {v} is not None", f"{v} is not None and {inner}", f"{inner} or not {v}"))
    elif language == "ruby":
        extra = f"{text} && !{v}.nil?"
    else:
        null = _NULL.get(language, "null")
        wrapped = text.startswith("(") and text.endswith(")")
        body = text[1:-1] if wrapped else text
        joined = f"{body} && {v} != {null}" if language != "rust" else f"{body} && {v}.is_some()"
        extra = f"({joined})" if wrapped else joined
    return _apply(data, [(condition.start_byte, condition.end_byte, extra.encode())]).decode("utf-8"), [
        f"condition line {node.start_point.row + 1}"
    ]


_HELPER_FORBIDDEN = re.compile(r"\b(yield|await|super|nonlocal|global|this|arguments)\b")


def extract_helper(language: str, code: str, rng: random.Random) -> tuple[str, list[str]]:
    """Move one assignment's right-hand side into a helper defined before the function, called with
    the locals it reads (Python, JavaScript and TypeScript)."""
    if language not in ("python", "javascript", "typescript", "tsx"):
        return code, []
    data = code.encode("utf-8")
    function = _function_node(_parse(language, data))
    locals_ = set(_bindings(language, function)) | {"self", "cls"}
    options: list[tuple[tree_sitter.Node, str, tree_sitter.Node]] = []
    for statement in _own_statements(function, data):
        inner = statement.named_children[0] if statement.named_child_count else None
        if language == "python" and inner is not None and inner.type == "assignment":
            left, right = inner.child_by_field_name("left"), inner.child_by_field_name("right")
        elif language != "python" and statement.type in ("lexical_declaration", "variable_declaration"):
            declarator = next((c for c in statement.named_children if c.type == "variable_declarator"), None)
            left = declarator.child_by_field_name("name") if declarator else None
            right = declarator.child_by_field_name("value") if declarator else None
        else:
            continue
        if (
            left is None
            or right is None
            or left.type != "identifier"
            or inner is not None
            and inner.child_by_field_name("type")
        ):
            continue
        body = _text(right)
        if len(body) < 12 or _HELPER_FORBIDDEN.search(body) or right.type in ("identifier", "string", "integer"):
            continue
        options.append((statement, _text(left), right))
    if not options:
        return code, []
    statement, target, right = rng.choice(options)
    seen: list[str] = []
    for n in _walk(right):
        name = _text(n)
        if n.type == "identifier" and not _is_member_name(n) and name in locals_ and name not in seen:
            if (
                n.parent is not None
                and n.parent.type == "keyword_argument"
                and n.parent.child_by_field_name("name") == n
            ):
                continue
            seen.append(name)
    taken = {_text(n) for n in _walk(function) if "identifier" in n.type}
    if language == "python":
        helper = rng.choice((f"_compute_{target.strip('_')}", f"_{target.strip('_')}_of", f"_make_{target.strip('_')}"))
    else:
        helper = rng.choice(("compute", "make", "get")) + target[:1].upper() + target[1:]
    while helper in taken:
        helper += "_"
    args = ", ".join(seen)
    # Decorators stay with the function: the helper goes before the whole definition.
    anchor = (
        function.parent if function.parent is not None and function.parent.type == "decorated_definition" else function
    )
    indent = _indent_of(data, anchor.start_byte).decode()
    if language == "python":
        definition = f"def {helper}({args}):\n{indent}    return {_text(right)}\n\n\n{indent}"
    else:
        definition = f"function {helper}({args}) {{\n{indent}  return {_text(right)};\n{indent}}}\n\n{indent}"
    out = _apply(data, [(right.start_byte, right.end_byte, f"{helper}({args})".encode())])
    out = out[: anchor.start_byte] + definition.encode() + out[anchor.start_byte :]
    return out.decode("utf-8"), [f"extract {target} into {helper}({args})"]


_ORDER_BARRIERS = frozenset(
    {"return_statement", "break_statement", "continue_statement", "raise_statement", "throw_statement",
     "pass_statement", "yield", "goto_statement", "defer_statement", "go_statement", "import_statement",
     "import_from_statement", "global_statement", "nonlocal_statement", "delete_statement", "labeled_statement"}
)  # fmt: skip


def _writes(statement: tree_sitter.Node) -> set[str]:
    """Names a statement may change: what it assigns or declares, and every receiver of a method call
    in it (``xs.append(1)``); a statement that is neither an assignment nor a declaration changes
    everything it names."""
    inner = (
        statement.named_children[0]
        if statement.type == "expression_statement" and statement.named_child_count
        else statement
    )
    targets = [c for f in ("left", "name", "declarator", "pattern") if (c := inner.child_by_field_name(f)) is not None]
    if not targets:
        targets = [
            c
            for d in inner.named_children
            if "declarator" in d.type or d.type in ("expression_list", "assignment_expression")
            for c in [d.child_by_field_name("name") or d.child_by_field_name("left") or d]
        ]
    is_binding = any(w in inner.type for w in ("assignment", "declaration", "declarator", "let_"))
    if not is_binding or not targets:
        return _names_in(statement)
    written = {n for t in targets for n in _names_in(t)}
    for node in _walk(statement):
        callee = node.child_by_field_name("function") if "call" in node.type else None
        if callee is not None and callee.type in (
            "attribute",
            "member_expression",
            "selector_expression",
            "field_expression",
        ):
            receiver = (
                callee.child_by_field_name("object")
                or callee.child_by_field_name("operand")
                or callee.child_by_field_name("argument")
            )
            if receiver is not None:
                written |= _names_in(receiver)
    return written


def reorder_statements(language: str, code: str, rng: random.Random) -> tuple[str, list[str]]:
    """Swap two adjacent single-line statements where neither reads or writes what the other may
    write (``_writes``), as a reordering edit does."""
    data = code.encode("utf-8")
    function = _function_node(_parse(language, data))
    statements = [s for s in _own_statements(function, data) if s.type not in _ORDER_BARRIERS]
    pairs = []
    for a, b in zip(statements, statements[1:], strict=False):
        if a.parent != b.parent or a.next_named_sibling != b or b.start_point.row != a.end_point.row + 1:
            continue
        if any(n.type in _ORDER_BARRIERS or "return" in n.type for n in (*_walk(a), *_walk(b))):
            continue
        if _writes(a) & _names_in(b) or _writes(b) & _names_in(a) or _text(a) == _text(b):
            continue
        pairs.append((a, b))
    if not pairs:
        return code, []
    a, b = rng.choice(pairs)
    edits = [(a.start_byte, a.end_byte, b.text or b""), (b.start_byte, b.end_byte, a.text or b"")]
    return _apply(data, edits).decode("utf-8"), [f"swap lines {a.start_point.row + 1} and {b.start_point.row + 1}"]


def _call_parts(node: tree_sitter.Node) -> tuple[str, str, list[tree_sitter.Node]] | None:
    """(receiver text, method or function name, argument nodes) of a call, or ``None``."""
    callee = node.child_by_field_name("function")
    arguments = node.child_by_field_name("arguments")
    if callee is None or arguments is None:
        return None
    args = [a for a in arguments.named_children if "comment" not in a.type]
    if callee.type in ("attribute", "member_expression", "selector_expression"):
        obj = callee.child_by_field_name("object") or callee.child_by_field_name("operand")
        name = (
            callee.child_by_field_name("attribute")
            or callee.child_by_field_name("property")
            or callee.child_by_field_name("field")
        )
        if obj is None or name is None:
            return None
        return _text(obj), _text(name), args
    if callee.type == "identifier":
        return "", _text(callee), args
    return None


def _simple(text: str) -> bool:
    return re.fullmatch(r"[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*", text) is not None


def _python_equivalent(node: tree_sitter.Node) -> tuple[str, str] | None:
    """An equivalent spelling of a Python call or comparison, with a label, or ``None``."""
    if node.type == "call":
        parts = _call_parts(node)
        if parts is None:
            return None
        receiver, name, args = parts
        texts = [_text(a) for a in args]
        if any(a.type in ("keyword_argument", "list_splat", "dictionary_splat") for a in args):
            return None
        if receiver and name == "get" and len(args) == 2 and texts[1] == "None":
            return f"{receiver}.get({texts[0]})", "get(k, None) -> get(k)"
        if receiver and name == "get" and len(args) == 1:
            return f"{receiver}.get({texts[0]}, None)", "get(k) -> get(k, None)"
        if receiver and name == "get" and len(args) == 2 and _simple(receiver) and _simple(texts[0]):
            return f"({receiver}[{texts[0]}] if {texts[0]} in {receiver} else {texts[1]})", "get(k, d) -> [k] if k in"
        if not receiver and name == "range" and len(args) == 1:
            return f"range(0, {texts[0]})", "range(n) -> range(0, n)"
        if not receiver and name == "list" and len(args) == 1 and args[0].type == "call":
            inner = _call_parts(args[0])
            if inner and not inner[0] and inner[1] == "map" and len(inner[2]) == 2:
                fn, seq = (_text(a) for a in inner[2])
                return f"[{fn}(v) for v in {seq}]", "list(map(f, xs)) -> comprehension"
        if not receiver and name in ("dict", "list", "set", "tuple") and not args:
            return {"dict": "{}", "list": "[]", "set": "set()", "tuple": "()"}[name], f"{name}() -> literal"
        if receiver and name == "startswith" and len(args) == 1 and args[0].type == "string" and _simple(receiver):
            return f"{receiver}[:len({texts[0]})] == {texts[0]}", "startswith -> slice"
        if receiver and name == "keys" and not args and node.parent is not None and node.parent.type == "for_statement":
            return receiver, "for k in d.keys() -> for k in d"
        return None
    if node.type == "comparison_operator" and len(node.named_children) == 2 and node.child_count == 3:
        left, right = node.named_children
        op = _text(node.children[1])
        if right.type == "none" and op in ("==", "!="):
            return f"{_text(left)} {'is' if op == '==' else 'is not'} None", "== None -> is None"
        parts = _call_parts(left) if left.type == "call" else None
        if parts and not parts[0] and parts[1] == "len" and len(parts[2]) == 1 and _text(right) == "0":
            arg = _text(parts[2][0])
            if op == "==":
                return f"not {arg}", "len(x) == 0 -> not x"
            if op in ("!=", ">"):
                return f"bool({arg})", "len(x) > 0 -> bool(x)"
    return None


def _generic_equivalent(language: str, node: tree_sitter.Node) -> tuple[str, str] | None:
    """Equivalent spellings of common calls in the C-family languages and Ruby."""
    text = _text(node)
    if "\n" in text:
        return None
    if language in ("javascript", "typescript", "tsx"):
        if m := re.fullmatch(r"([\w$.]+)\.indexOf\(([^()]+)\) (!==|!=) -1", text):
            return f"{m[1]}.includes({m[2]})", "indexOf != -1 -> includes"
        if m := re.fullmatch(r"([\w$.]+)\.includes\(([^()]+)\)", text):
            return f"{m[1]}.indexOf({m[2]}) !== -1", "includes -> indexOf != -1"
        if m := re.fullmatch(r"Object\.assign\(\{\}, ([\w$.]+)\)", text):
            return f"{{ ...{m[1]} }}", "Object.assign({}, a) -> spread"
        if m := re.fullmatch(r"([\w$.]+)\.length (===|==) 0", text):
            return f"!{m[1]}.length", "length === 0 -> !length"
        if m := re.fullmatch(r"([\w$.]+)\.slice\(\)", text):
            return f"[...{m[1]}]", "slice() -> spread"
    if language in ("java", "csharp"):
        if m := re.fullmatch(r"([\w.]+)\.(size|length)\(\) == 0", text):
            return f"{m[1]}.isEmpty()", "size() == 0 -> isEmpty()"
        if m := re.fullmatch(r"([\w.]+)\.isEmpty\(\)", text):
            return f"{m[1]}.size() == 0", "isEmpty() -> size() == 0"
        if m := re.fullmatch(r'"([^"]*)"\.equals\(([\w.]+)\)', text):
            return f'{m[2]}.equals("{m[1]}")', "literal.equals(x) -> x.equals(literal)"
    if language == "go":
        if m := re.fullmatch(r"strings\.Index\(([^(),]+), ([^(),]+)\) (>=|!=) (0|-1)", text):
            return f"strings.Contains({m[1]}, {m[2]})", "strings.Index >= 0 -> Contains"
        if m := re.fullmatch(r"strings\.Contains\(([^()]+), ([^()]+)\)", text):
            return f"strings.Index({m[1]}, {m[2]}) >= 0", "Contains -> strings.Index >= 0"
        if m := re.fullmatch(r"len\(([\w.]+)\) == 0", text):
            return f"len({m[1]}) < 1", "len(x) == 0 -> len(x) < 1"
    if language == "ruby":
        if m := re.fullmatch(r"([\w.@]+)\.(length|size|count) == 0", text):
            return f"{m[1]}.empty?", "length == 0 -> empty?"
        if m := re.fullmatch(r"([\w.@]+)\.length", text):
            return f"{m[1]}.size", "length -> size"
    if language == "rust":
        if m := re.fullmatch(r"([\w.]+)\.len\(\) == 0", text):
            return f"{m[1]}.is_empty()", "len() == 0 -> is_empty()"
    return None


def swap_equivalent_calls(language: str, code: str, rng: random.Random, *, count: int = 1) -> tuple[str, list[str]]:
    """Replace up to ``count`` library calls or tests with equivalent ones (``d.get(k, None)`` →
    ``d.get(k)``, ``len(x) == 0`` → ``not x``, ``indexOf(y) !== -1`` → ``includes(y)`` …)."""
    data = code.encode("utf-8")
    function = _function_node(_parse(language, data))
    found: list[tuple[int, int, bytes, str]] = []
    for node in _walk(function):
        swap = _python_equivalent(node) if language == "python" else _generic_equivalent(language, node)
        if swap is not None:
            found.append((node.start_byte, node.end_byte, swap[0].encode(), swap[1]))
    if not found:
        return code, []
    chosen: list[tuple[int, int, bytes, str]] = []
    for start, end, text, label in rng.sample(found, len(found)):
        if len(chosen) < count and all(end <= s or start >= e for s, e, _, _ in chosen):
            chosen.append((start, end, text, label))
    out = _apply(data, [(s, e, new) for s, e, new, _ in chosen])
    return out.decode("utf-8"), [label for _, _, _, label in chosen]


_EDITS = {
    CloneKind.ADDED_PARAMETER: add_parameter,
    CloneKind.TYPE_HINTS: add_type_hints,
    CloneKind.CHANGED_BRANCH: change_branch,
    CloneKind.EXTRACTED_HELPER: extract_helper,
    CloneKind.REORDERED: reorder_statements,
    CloneKind.EQUIVALENT_CALLS: swap_equivalent_calls,
}


# --- the clone kinds -----------------------------------------------------------------------------
def make_clone(language: str, code: str, kind: CloneKind, *, seed: int | random.Random = 0) -> Clone:
    """A synthetic clone of ``code`` (one function of ``language``) of the given kind.

    An edit kind that finds nothing to edit (no ``if`` to change, a language it does not know)
    returns the code unchanged with no operations."""
    rng = seed if isinstance(seed, random.Random) else random.Random(seed)
    operations: list[str] = []
    if kind is CloneKind.REFORMATTED:
        code, ops = reformat(language, code, rng)
        operations += ops
    elif kind in _EDITS:
        code, ops = _EDITS[kind](language, code, rng)
        operations += ops
    else:
        code, ops = rename_identifiers(language, code, rng)
        operations += ops
        if kind is CloneKind.RENAMED_EDITED:
            code, ops = edit_statements(language, code, rng, count=rng.randint(1, 3))
            operations += ops
    return Clone(kind=kind, code=code, operations=tuple(operations))


# --- training clones, with a text fallback -------------------------------------------------------
# Where the tree-sitter clone fails (a grammar corner case, no parser for the language), a
# renamed copy is made by a language-agnostic line-and-token rewrite: parameters and assigned
# locals renamed consistently, integer literals changed, layout changed (blank lines, comment
# lines dropped, spacing around ``=``), and for ``renamed_edited`` one to three simple statements
# deleted or duplicated. It works on text, so it is approximate (a renamed name may also be a
# keyword argument of a call), which is acceptable for training data.
_KEYWORDS = frozenset(
    """
    and as assert async await break case catch class const continue def default defer del do elif else
    enum except export extends false final finally fn for foreach from func function go goto if impl import
    in instanceof interface is lambda let loop match mod mut new nil none nonlocal not null or package pass
    private protected pub public raise return self static struct super switch this throw throws trait true
    try type typeof use var void where while with yield cls int float str bool string char long double byte
    short unsigned signed auto boolean object any list dict set tuple map vec option result some ok err
    """.split()
)
_TEXT_PARAMS = re.compile(r"\(([^)]*)\)")
_TEXT_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGNED = re.compile(
    r"^\s*(?:(?:let|var|const|mut|auto|int|float|double|long|String|string|bool|char)\s+)*([a-z_][A-Za-z0-9_]*)\s*(?::=|=(?!=)|\+=|-=)",
    re.M,
)
_LOOP_VAR = re.compile(r"\bfor\s*\(?\s*(?:(?:let|var|const|auto|int)\s+)?([a-z_][A-Za-z0-9_]*)\s+(?:in|of|:|=)")
_TEXT_INT = re.compile(r"(?<![\w.])(\d+)(?![\w.])")
_COMMENT_LINE = re.compile(r"^\s*(#|//)")
_NEW_NAMES = (
    "value", "item", "data", "result", "current", "entry", "element", "target", "source", "buffer",
    "count", "index", "node", "record", "payload", "temp", "acc", "output", "state", "spec",
)  # fmt: skip


def local_names(fn: CodeFunction) -> list[str]:
    """Parameter and local names worth renaming, in order of first appearance."""
    names: list[str] = []
    match = _TEXT_PARAMS.search(fn.signature or "")
    if match:
        for part in match.group(1).split(","):
            # "x: int = 3", "int x", "x int", "*args", "&mut self": take the identifiers that look like names
            idents = [i for i in _TEXT_IDENT.findall(part.split("=")[0].split(":")[0]) if i.lower() not in _KEYWORDS]
            candidates = [i for i in idents if i[0].islower() or i[0] == "_"]
            if candidates:
                names.append(
                    candidates[-1] if fn.language in {"java", "c", "cpp", "csharp", "typescript"} else candidates[0]
                )
    names += _ASSIGNED.findall(fn.code)
    names += _LOOP_VAR.findall(fn.code)
    out: list[str] = []
    for name in names:
        if name not in out and name.lower() not in _KEYWORDS and name != fn.name and len(name) > 0:
            out.append(name)
    return out


def rename_text(code: str, mapping: dict[str, str]) -> str:
    """Replace whole identifiers (not attribute accesses after a dot) by their new names."""
    if not mapping:
        return code
    pattern = re.compile(
        r"(?<![\w.])(" + "|".join(re.escape(k) for k in sorted(mapping, key=len, reverse=True)) + r")\b"
    )
    return pattern.sub(lambda m: mapping[m.group(1)], code)


def _text_change_literals(code: str, rng: random.Random) -> str:
    def bump(m: re.Match[str]) -> str:
        if rng.random() < 0.5:
            return m.group(1)
        return str(int(m.group(1)) + rng.randint(1, 9))

    return _TEXT_INT.sub(bump, code)


def _text_reformat(code: str, rng: random.Random) -> str:
    lines = [line for line in code.splitlines() if not _COMMENT_LINE.match(line)]
    out: list[str] = []
    for i, line in enumerate(lines):
        if rng.random() < 0.3:
            line = re.sub(r"\s*(?<![=!<>+\-*/%&|^:])=(?![=])\s*", " = " if rng.random() < 0.5 else "=", line)
        out.append(line.rstrip())
        if 0 < i < len(lines) - 1 and rng.random() < 0.15:
            out.append("")
    return "\n".join(out)


def _simple_statement_lines(lines: list[str]) -> list[int]:
    """Indices of body lines that are whole simple statements (safe to delete or duplicate)."""
    picks = []
    for i, line in enumerate(lines[1:-1], start=1):
        stripped = line.strip()
        if not stripped or _COMMENT_LINE.match(line):
            continue
        if stripped.endswith((":", "{", "}", "(", ",", "\\", "[")) or stripped.startswith(
            ("}", ")", "]", "return", "else", "elif", "except", "finally", "case")
        ):
            continue
        if stripped.count("(") != stripped.count(")"):
            continue
        picks.append(i)
    return picks


def _text_edit_statements(code: str, rng: random.Random) -> str | None:
    lines = code.splitlines()
    for _ in range(rng.randint(1, 3)):
        candidates = _simple_statement_lines(lines)
        if not candidates:
            break
        i = rng.choice(candidates)
        if rng.random() < 0.5 and len(candidates) > 1:
            del lines[i]
        else:
            j = rng.choice(candidates)
            lines.insert(j, lines[i])
    edited = "\n".join(lines)
    return edited if edited != code else None


def fallback_clone(fn: CodeFunction, kind: CloneKind, rng: random.Random) -> str | None:
    """The text rewrite (``renamed`` or ``renamed_edited``) for where the tree-sitter one fails;
    ``None`` when nothing could change."""
    names = local_names(fn)
    pool = [n for n in _NEW_NAMES if n not in names and not re.search(rf"\b{n}\b", fn.code)]
    rng.shuffle(pool)
    mapping = {}
    for name, new in zip(names, pool, strict=False):
        mapping[name] = new if name[0] != "_" else "_" + new
    code = rename_text(fn.code, mapping)
    code = _text_change_literals(code, rng)
    if kind is CloneKind.RENAMED_EDITED:
        code = _text_edit_statements(code, rng) or code
    code = _text_reformat(code, rng)
    return code if code.strip() != fn.code.strip() else None


def training_clone(fn: CodeFunction, kind: CloneKind, rng: random.Random) -> str | None:
    """A clone of ``fn`` of ``kind`` for a training pair, or ``None`` when none differs from it.

    The tree-sitter clone first; for the renamed kinds the text rewrite where that fails or
    changes nothing. Edit kinds that find nothing to edit give ``None``.
    """
    try:
        code = make_clone(fn.language, fn.code, kind, seed=rng).code
    except Exception as exc:  # noqa: BLE001 - a grammar corner case must not stop mining; fall back
        log.debug("clones.tree_sitter_failed path=%s kind=%s error=%s", fn.path, kind.value, exc)
        code = fn.code
    if code.strip() != fn.code.strip():
        return code
    if kind in (CloneKind.RENAMED, CloneKind.RENAMED_EDITED):
        return fallback_clone(fn, kind, rng)
    return None
