"""Synthetic clones of a function, as a developer's copy-and-edit would make them.

Used to measure the near-duplicate verdict (``benchmarks/bench_clone_recall.py``) and to make
positive pairs for training. Each transformation works on the tree-sitter tree of the function
and edits its text by byte ranges, so what it produces is still the same language:

* ``rename_identifiers``: parameters and local variables (and the function's own name) get new
  names, consistently; member names (``obj.attr``), keyword-argument names and globals stay;
* ``change_literals``: numbers and string contents change;
* ``edit_statements``: 1–3 statements inserted, deleted or altered (an operator flipped, a
  literal changed);
* ``reformat``: spacing within lines, line breaks after commas inside brackets, blank lines.

Everything is deterministic for a given seed. Python is handled with care (its output parses);
other languages are best effort (renaming, literals, deletions and spacing work on any grammar,
insertions use a per-language statement template).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tree_sitter


class CloneKind(StrEnum):
    REFORMATTED = "reformatted"  # layout only
    RENAMED = "renamed"  # consistent renaming of locals, parameters and the function
    RENAMED_EDITED = "renamed_edited"  # renamed, then 1–3 statements inserted, deleted or changed


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


# --- the clone kinds -----------------------------------------------------------------------------
def make_clone(language: str, code: str, kind: CloneKind, *, seed: int | random.Random = 0) -> Clone:
    """A synthetic clone of ``code`` (one function of ``language``) of the given kind."""
    rng = seed if isinstance(seed, random.Random) else random.Random(seed)
    operations: list[str] = []
    if kind is CloneKind.REFORMATTED:
        code, ops = reformat(language, code, rng)
        operations += ops
    else:
        code, ops = rename_identifiers(language, code, rng)
        operations += ops
        if kind is CloneKind.RENAMED_EDITED:
            code, ops = edit_statements(language, code, rng, count=rng.randint(1, 3))
            operations += ops
    return Clone(kind=kind, code=code, operations=tuple(operations))
