"""Per-language knowledge of the syntax trees: which nodes are functions, what they are called,
which enclosing nodes add to a qualified name, and where doc comments live.

Everything here is a pure function of a ``Site``: a node with the few ancestors its rules look
at, handed over by the walk in ``functions.py``. (tree-sitter finds ``Node.parent`` by
descending from the root, so asking a node for its ancestors costs its depth each time.)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import tree_sitter

Node = tree_sitter.Node

_GENERIC_ARGS = re.compile(r"<[^<>]*>")
_SPACE = re.compile(r"\s+")


def _strip_generics(name: str) -> str:
    while True:
        stripped = _GENERIC_ARGS.sub("", name)
        if stripped == name:
            return _SPACE.sub("", name)
        name = stripped


ANCESTORS_KEPT = 3  # the deepest rule (a JS arrow in an exported declaration) looks three levels up


@dataclass(frozen=True, slots=True)
class Site:
    """A function or scope node, its nearest ancestors (parent first) and the file's module name.

    ``module`` is the name a file's anonymous default export takes: the file's stem, or the
    folder's name for ``index`` files (``lib/parseHeaders.js`` → ``parseHeaders``).
    """

    node: Node
    ancestors: tuple[Node, ...]  # parent, grandparent, … (at most ``ANCESTORS_KEPT``)
    source: bytes  # the file's UTF-8 bytes
    module: str = ""

    def up(self, levels: int) -> Node | None:
        """The ancestor ``levels`` above the node (1: its parent), or ``None`` above what is kept."""
        return self.ancestors[levels - 1] if 0 < levels <= len(self.ancestors) else None

    def text(self, node: Node | None) -> str:
        """A node's text, cut from the file's bytes (a tree parsed against a deadline reads its
        source through a callback, and ``Node.text`` would call it again for every node)."""
        return "" if node is None else self.source[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def field(self, node: Node, name: str) -> str | None:
        """The text of ``node``'s child in field ``name``, ``None`` when absent or empty."""
        return self.text(node.child_by_field_name(name)) or None


@dataclass(frozen=True)
class Syntax:
    """How one language's grammar shapes functions.

    ``functions``: node types that are functions (only those with a body are extracted).
    ``scopes``: enclosing node types that add a name segment (classes, modules, namespaces).
    ``name_of``: the name of a function or scope node, ``None`` when it has none (lambdas).
    ``span_of``: how many levels above the node is the node whose text is the function's code
    (0: the node itself; 2 for ``const f = () => {}``, whose code is the whole declaration).
    ``prefix_types``: sibling node types just before the span that belong to it (decorators).
    ``doc``: ``python`` (docstring), ``block`` (``/** */``), ``line`` (``//`` runs and block
    comments), ``hash`` (``#`` runs); ``line_markers``: line-comment markers accepted for docs.
    """

    functions: frozenset[str]
    scopes: frozenset[str]
    name_of: Callable[[Site], str | None]
    span_of: Callable[[Site], int]
    doc: str
    line_markers: tuple[str, ...] = ()
    prefix_types: frozenset[str] = frozenset()
    body_field: str = "body"


def _own_span(site: Site) -> int:
    return 0


def _name_field(site: Site) -> str | None:
    return site.field(site.node, "name")


def _wrapped_by(site: Site, kind: str) -> int:
    """1 when the parent is a ``kind`` node that wraps the function (decorators, templates), else 0."""
    parent = site.up(1)
    return 1 if parent is not None and parent.type == kind else 0


# --- Python ---------------------------------------------------------------------------------


def _python_span(site: Site) -> int:
    return _wrapped_by(site, "decorated_definition")


# --- JavaScript / TypeScript ----------------------------------------------------------------

_JS_ANONYMOUS = frozenset({"arrow_function", "function_expression", "function", "generator_function"})


def commonjs_export(target: str) -> str | None:
    """What assigning to ``target`` exports in CommonJS, or ``None`` when it is no export.

    ``""`` stands for the module's own value (``module.exports``, ``exports.default``), a name
    for a named export (``exports.parse``, ``module.exports.parse`` → ``parse``).
    """
    if target == "module.exports":
        return ""
    for prefix in ("module.exports.", "exports."):
        if target.startswith(prefix):
            name = target[len(prefix) :]
            return "" if name == "default" else name
    return None


def _js_holder_name(site: Site) -> str | None:
    """The name a value gets from where it is stored: variable, class field, object key, assignment.

    ``""`` when the value is the module's own export (``export default …``, ``module.exports = …``).
    """
    node, parent = site.node, site.up(1)
    if parent is None:
        return None
    kind = parent.type
    if kind == "variable_declarator" and parent.child_by_field_name("value") == node:
        name = parent.child_by_field_name("name")
        return site.text(name) if name is not None and name.type == "identifier" else None
    if kind in ("field_definition", "public_field_definition") and parent.child_by_field_name("value") == node:
        return site.field(parent, "property") or site.field(parent, "name")
    if kind == "pair" and parent.child_by_field_name("value") == node:
        key = parent.child_by_field_name("key")
        return site.text(key).strip("'\"`") if key is not None else None
    if kind == "assignment_expression" and parent.child_by_field_name("right") == node:
        left = parent.child_by_field_name("left")
        if left is not None and left.type in ("identifier", "member_expression"):
            target = _SPACE.sub("", site.text(left))
            exported = commonjs_export(target)
            return target if exported is None else exported
    if kind == "export_statement" and parent.child_by_field_name("declaration") != node:
        return ""  # `export default <value>` (and TypeScript's `export = <value>`)
    return None


def _js_name(site: Site) -> str | None:
    """A function's or scope's own name, else the name of what holds it.

    A function that is the module's export is named after the module (``export default``,
    ``module.exports =``), and so is a class that has no name of its own; an object that is
    adds no segment: its methods are the module's named exports (``module.exports = {get}``).
    """
    node = site.node
    kind = node.type
    if kind not in _JS_ANONYMOUS and kind not in ("class", "object"):
        return site.field(node, "name")
    holder = _js_holder_name(site)
    own = site.field(node, "name") if kind != "object" else None
    if holder == "":
        if kind == "object":
            return None
        return (own or site.module or None) if kind == "class" else (site.module or own)
    return holder or own


def _js_span(site: Site) -> int:
    """Levels up to the code's node: the declaration, field, pair or statement that holds a
    function value, and the ``export`` around it."""
    level = 0
    parent, grandparent = site.up(1), site.up(2)
    if site.node.type in _JS_ANONYMOUS and parent is not None:
        if parent.type == "variable_declarator":
            if grandparent is not None and grandparent.named_child_count == 1:
                level = 2
        elif parent.type in ("field_definition", "public_field_definition", "pair"):
            level = 1
        elif parent.type == "assignment_expression" and grandparent is not None:
            if grandparent.type == "expression_statement":
                level = 2
    outer = site.up(level + 1)
    if outer is not None and outer.type == "export_statement":
        level += 1
    return level


# --- Go -------------------------------------------------------------------------------------


def _go_name(site: Site) -> str | None:
    node = site.node
    name = site.field(node, "name")
    if name is None or node.type != "method_declaration":
        return name
    receiver = node.child_by_field_name("receiver")
    for parameter in receiver.named_children if receiver is not None else ():
        kind = parameter.child_by_field_name("type")
        while kind is not None and kind.type in ("pointer_type", "generic_type", "parenthesized_type"):
            inner = kind.child_by_field_name("type")
            kind = inner if inner is not None else (kind.named_children[0] if kind.named_children else None)
        if kind is not None:
            return f"{_strip_generics(site.text(kind))}.{name}"
    return name


# --- Ruby -----------------------------------------------------------------------------------


def _ruby_name(site: Site) -> str | None:
    node = site.node
    if node.type == "singleton_class":
        return None  # `class << self`: its methods are class methods, named Class.method
    name = site.field(node, "name")
    if node.type == "singleton_method":
        target = node.child_by_field_name("object")
        if target is not None and target.type != "self" and name:
            return f"{site.text(target).replace('::', '.')}.{name}"
    return name.replace("::", ".") if name else None


# --- C / C++ --------------------------------------------------------------------------------

_DECLARATOR_WRAPPERS = frozenset(
    {"function_declarator", "pointer_declarator", "reference_declarator", "parenthesized_declarator",
     "attributed_declarator"}
)  # fmt: skip


def _c_name(site: Site) -> str | None:
    node = site.node
    if node.type != "function_definition":
        return site.field(node, "name")
    declarator = node.child_by_field_name("declarator")
    while declarator is not None and declarator.type in _DECLARATOR_WRAPPERS:
        inner = declarator.child_by_field_name("declarator")
        if inner is None:
            inner = next((c for c in declarator.named_children if c.type not in ("type_qualifier",)), None)
        declarator = inner
    if declarator is None:
        return None
    name = _strip_generics(site.text(declarator))
    return ".".join(part for part in name.split("::") if part) or None


def _cpp_span(site: Site) -> int:
    return _wrapped_by(site, "template_declaration")


# --- Rust -----------------------------------------------------------------------------------


def _rust_name(site: Site) -> str | None:
    node = site.node
    if node.type != "impl_item":
        return site.field(node, "name")
    target = node.child_by_field_name("type")
    while target is not None and target.type in ("reference_type", "generic_type", "pointer_type"):
        inner = target.child_by_field_name("type")
        target = inner if inner is not None else None
    if target is None:
        return None
    return _strip_generics(site.text(target)).split("::")[-1].lstrip("&") or None


# --- C# / Java / PHP --------------------------------------------------------------------------

_JAVA_SCOPES = frozenset(
    {"class_declaration", "interface_declaration", "enum_declaration", "record_declaration",
     "annotation_type_declaration"}
)  # fmt: skip
_JS_FUNCTIONS = frozenset(
    {"function_declaration", "generator_function_declaration", "method_definition", *_JS_ANONYMOUS}
)
_JS_SCOPES = frozenset(
    {"class_declaration", "abstract_class_declaration", "class", "object", "internal_module", "module"}
)

_JS = Syntax(_JS_FUNCTIONS, _JS_SCOPES, _js_name, _js_span, "block", prefix_types=frozenset({"decorator"}))

SYNTAX: dict[str, Syntax] = {
    "python": Syntax(
        frozenset({"function_definition"}), frozenset({"class_definition"}), _name_field, _python_span, "python"
    ),
    "java": Syntax(
        frozenset({"method_declaration", "constructor_declaration", "compact_constructor_declaration"}),
        _JAVA_SCOPES,
        _name_field,
        _own_span,
        "block",
    ),
    "javascript": _JS,
    "typescript": _JS,
    "tsx": _JS,
    "go": Syntax(
        frozenset({"function_declaration", "method_declaration"}), frozenset(), _go_name, _own_span, "line", ("//",)
    ),
    "ruby": Syntax(
        frozenset({"method", "singleton_method"}),
        frozenset({"class", "module", "singleton_class"}),
        _ruby_name,
        _own_span,
        "hash",
        ("#",),
        body_field="",  # Ruby methods have no brace-delimited body: the header is the first line
    ),
    "php": Syntax(
        frozenset({"function_definition", "method_declaration"}),
        frozenset({"class_declaration", "interface_declaration", "trait_declaration", "enum_declaration"}),
        _name_field,
        _own_span,
        "block",
    ),
    "c": Syntax(frozenset({"function_definition"}), frozenset(), _c_name, _own_span, "line", ("//",)),
    "cpp": Syntax(
        frozenset({"function_definition"}),
        frozenset({"class_specifier", "struct_specifier", "union_specifier", "namespace_definition"}),
        _c_name,
        _cpp_span,
        "line",
        ("///", "//"),
    ),
    "csharp": Syntax(
        frozenset(
            {
                "method_declaration",
                "constructor_declaration",
                "destructor_declaration",
                "local_function_statement",
                "operator_declaration",
            }
        ),  # fmt: skip
        frozenset({"class_declaration", "struct_declaration", "interface_declaration", "record_declaration"}),
        _name_field,
        _own_span,
        "block",
        ("///",),
    ),
    "rust": Syntax(
        frozenset({"function_item"}),
        frozenset({"impl_item", "trait_item", "mod_item"}),
        _rust_name,
        _own_span,
        "line",
        ("///", "//"),
        prefix_types=frozenset({"attribute_item"}),
    ),
}
