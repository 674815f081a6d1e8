"""Per-language knowledge of the syntax trees: which nodes are functions, what they are called,
which enclosing nodes add to a qualified name, and where doc comments live.

Everything here is a pure function of a tree-sitter node; ``functions.py`` drives it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import tree_sitter

Node = tree_sitter.Node

_GENERIC_ARGS = re.compile(r"<[^<>]*>")
_SPACE = re.compile(r"\s+")


def text(node: Node | None) -> str:
    return node.text.decode("utf-8", "replace") if node is not None and node.text is not None else ""


def _strip_generics(name: str) -> str:
    while True:
        stripped = _GENERIC_ARGS.sub("", name)
        if stripped == name:
            return _SPACE.sub("", name)
        name = stripped


def _field_text(node: Node, field: str) -> str | None:
    return text(node.child_by_field_name(field)) or None


@dataclass(frozen=True)
class Syntax:
    """How one language's grammar shapes functions.

    ``functions``: node types that are functions (only those with a body are extracted).
    ``scopes``: enclosing node types that add a name segment (classes, modules, namespaces).
    ``name_of``: the name of a function or scope node, ``None`` when it has none (lambdas).
    ``span_of``: the node whose text is the function's code (e.g. ``const f = () => {}``).
    ``prefix_types``: sibling node types just before the span that belong to it (decorators).
    ``doc``: ``python`` (docstring), ``block`` (``/** */``), ``line`` (``//`` runs and block
    comments), ``hash`` (``#`` runs); ``line_markers``: line-comment markers accepted for docs.
    """

    functions: frozenset[str]
    scopes: frozenset[str]
    name_of: Callable[[Node], str | None]
    span_of: Callable[[Node], Node]
    doc: str
    line_markers: tuple[str, ...] = ()
    prefix_types: frozenset[str] = frozenset()
    body_field: str = "body"


def _own_span(node: Node) -> Node:
    return node


# --- Python ---------------------------------------------------------------------------------


def _python_span(node: Node) -> Node:
    parent = node.parent
    return parent if parent is not None and parent.type == "decorated_definition" else node


def _name_field(node: Node) -> str | None:
    return _field_text(node, "name")


# --- JavaScript / TypeScript ----------------------------------------------------------------

_JS_ANONYMOUS = frozenset({"arrow_function", "function_expression", "function", "generator_function"})


def _js_holder_name(node: Node) -> str | None:
    """The name a value gets from where it is stored: variable, class field, object key, assignment."""
    parent = node.parent
    if parent is None:
        return None
    kind = parent.type
    if kind == "variable_declarator" and parent.child_by_field_name("value") == node:
        name = parent.child_by_field_name("name")
        return text(name) if name is not None and name.type == "identifier" else None
    if kind in ("field_definition", "public_field_definition") and parent.child_by_field_name("value") == node:
        return _field_text(parent, "property") or _field_text(parent, "name")
    if kind == "pair" and parent.child_by_field_name("value") == node:
        key = parent.child_by_field_name("key")
        return text(key).strip("'\"`") if key is not None else None
    if kind == "assignment_expression" and parent.child_by_field_name("right") == node:
        left = parent.child_by_field_name("left")
        if left is not None and left.type in ("identifier", "member_expression"):
            return _SPACE.sub("", text(left))
    return None


def _js_name(node: Node) -> str | None:
    kind = node.type
    if kind in _JS_ANONYMOUS or kind in ("class", "object"):
        return _js_holder_name(node) or (_field_text(node, "name") if kind != "object" else None)
    return _field_text(node, "name")


def _js_span(node: Node) -> Node:
    span = node
    parent = node.parent
    if node.type in _JS_ANONYMOUS and parent is not None:
        if parent.type == "variable_declarator":
            declaration = parent.parent
            if declaration is not None and declaration.named_child_count == 1:
                span = declaration
        elif parent.type in ("field_definition", "public_field_definition", "pair"):
            span = parent
        elif parent.type == "assignment_expression" and parent.parent is not None:
            if parent.parent.type == "expression_statement":
                span = parent.parent
    outer = span.parent
    if outer is not None and outer.type == "export_statement":
        span = outer
    return span


# --- Go -------------------------------------------------------------------------------------


def _go_name(node: Node) -> str | None:
    name = _field_text(node, "name")
    if name is None or node.type != "method_declaration":
        return name
    receiver = node.child_by_field_name("receiver")
    for parameter in receiver.named_children if receiver is not None else ():
        kind = parameter.child_by_field_name("type")
        while kind is not None and kind.type in ("pointer_type", "generic_type", "parenthesized_type"):
            inner = kind.child_by_field_name("type")
            kind = inner if inner is not None else (kind.named_children[0] if kind.named_children else None)
        if kind is not None:
            return f"{_strip_generics(text(kind))}.{name}"
    return name


# --- Ruby -----------------------------------------------------------------------------------


def _ruby_name(node: Node) -> str | None:
    if node.type == "singleton_class":
        return None  # `class << self`: its methods are class methods, named Class.method
    name = _field_text(node, "name")
    if node.type == "singleton_method":
        target = node.child_by_field_name("object")
        if target is not None and target.type != "self" and name:
            return f"{text(target).replace('::', '.')}.{name}"
    return name.replace("::", ".") if name else None


# --- C / C++ --------------------------------------------------------------------------------

_DECLARATOR_WRAPPERS = frozenset(
    {"function_declarator", "pointer_declarator", "reference_declarator", "parenthesized_declarator",
     "attributed_declarator"}
)  # fmt: skip


def _c_name(node: Node) -> str | None:
    if node.type != "function_definition":
        return _field_text(node, "name")
    declarator = node.child_by_field_name("declarator")
    while declarator is not None and declarator.type in _DECLARATOR_WRAPPERS:
        inner = declarator.child_by_field_name("declarator")
        if inner is None:
            inner = next((c for c in declarator.named_children if c.type not in ("type_qualifier",)), None)
        declarator = inner
    if declarator is None:
        return None
    name = _strip_generics(text(declarator))
    return ".".join(part for part in name.split("::") if part) or None


def _cpp_span(node: Node) -> Node:
    parent = node.parent
    return parent if parent is not None and parent.type == "template_declaration" else node


# --- Rust -----------------------------------------------------------------------------------


def _rust_name(node: Node) -> str | None:
    if node.type != "impl_item":
        return _field_text(node, "name")
    target = node.child_by_field_name("type")
    while target is not None and target.type in ("reference_type", "generic_type", "pointer_type"):
        inner = target.child_by_field_name("type")
        target = inner if inner is not None else None
    if target is None:
        return None
    return _strip_generics(text(target)).split("::")[-1].lstrip("&") or None


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
