"""Extraction per language on realistic fixture files: names, lines, signatures, docs, code."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.domain import CodeFunction
from embedding.extract import ExtractOptions, body_hash, extract_file, extract_source

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "extract"
ALL_SIZES = ExtractOptions(min_function_lines=1)


def _functions(name: str, options: ExtractOptions = ALL_SIZES) -> dict[str, CodeFunction]:
    result = extract_file(FIXTURES, name, options)
    assert result.skipped is None
    assert result.warnings == []
    functions = {fn.qualified_name: fn for fn in result.functions}
    assert len(functions) == len(result.functions), "qualified names must be unique in these fixtures"
    return functions


EXPECTED_NAMES = {
    "sample.py": ["top_level", "Cart.__init__", "Cart.count", "Cart.price_of", "Cart.outer", "Cart.outer.inner",
                  "Cart.short", "fetch"],
    "Sample.java": ["UserRepo.UserRepo", "UserRepo.find", "UserRepo.validate", "UserRepo.Inner.twice"],
    "sample.js": ["add", "mul", "sub", "Widget.handle", "Widget.render", "Widget.create", "api.fetchAll",
                  "api.remove", "api.update"],
    "sample.ts": ["Service.get", "Service.set", "Service.onChange", "parse", "format", "Util.clamp"],
    "sample.tsx": ["Button", "List"],
    "sample.go": ["Total", "Item.String", "Item.Discount", "Cache.Get"],
    "sample.rb": ["Shop.Cart.initialize", "Shop.Cart.add", "Shop.Cart.from", "Shop.Cart.empty", "Shop.helper"],
    "sample.php": ["format_price", "Invoice.addLine", "Invoice.empty"],
    "sample.c": ["add", "greet", "make_buffer"],
    "sample.cpp": ["geo.Point.Point", "geo.Point.norm", "geo.Point.dot", "geo.Point.~Point", "maximum", "operator=="],
    "Sample.cs": ["Invoice.Invoice", "Invoice.WithTax", "Invoice.Validate", "Invoice.Answer"],
    "sample.rs": ["Counter.new", "Counter.incr", "Holder.get", "Counter.fmt", "helper", "tests.check"],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_qualified_names_in_document_order(name: str) -> None:
    result = extract_file(FIXTURES, name, ALL_SIZES)
    assert [fn.qualified_name for fn in result.functions] == EXPECTED_NAMES[name]


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_every_function_is_consistent(name: str) -> None:
    source_lines = (FIXTURES / name).read_text().split("\n")
    for fn in _functions(name).values():
        assert fn.path == name
        assert 1 <= fn.start_line <= fn.end_line <= len(source_lines)
        # The code's first and last lines are the file's lines at start_line and end_line.
        code_lines = fn.code.split("\n")
        assert source_lines[fn.start_line - 1].strip().startswith(code_lines[0].strip())
        assert code_lines[-1].strip() in source_lines[fn.end_line - 1]
        assert "\n" not in fn.signature and "  " not in fn.signature
        assert fn.name in fn.signature.replace("::", ".") or fn.name in fn.code
        # The hash of the code alone equals the hash computed inside the whole file.
        assert body_hash(fn.language, fn.code) == fn.body_hash


def test_python_docstrings_decorators_and_nesting() -> None:
    functions = _functions("sample.py")
    top = functions["top_level"]
    assert top.docstring == "Add two numbers.\n\nReturns the sum."
    assert '"""' not in top.code and "Add two numbers" not in top.code
    assert "# a comment that stays in the code" in top.code
    assert (top.start_line, top.end_line, top.signature) == (6, 12, "def top_level(a, b):")

    count = functions["Cart.count"]  # decorators belong to the function's lines and code
    assert (count.start_line, count.end_line) == (22, 26)
    assert count.code.startswith("@property\ndef count(self):")
    assert count.signature == "def count(self):"
    assert count.docstring == "Number of items."

    price = functions["Cart.price_of"]  # a header over two lines becomes one signature line
    assert price.signature == 'def price_of(item, currency="EUR") -> float:'
    assert price.code.startswith("@staticmethod\n@functools.lru_cache(maxsize=None)\ndef price_of(item,")

    inner = functions["Cart.outer.inner"]
    assert (inner.start_line, inner.end_line) == (36, 38)
    assert inner.code == "def inner(x):\n    y = x * 2\n    return y"
    assert functions["fetch"].docstring == "Raw docstring."
    assert functions["fetch"].signature == "async def fetch(url):"


def test_min_function_lines_counts_code_without_docstring() -> None:
    names = [fn.qualified_name for fn in extract_file(FIXTURES, "sample.py").functions]  # default: 3 lines
    assert "Cart.short" not in names  # one line
    assert "Cart.count" in names
    source = b'def f():\n    """Long\n    docstring\n    here."""\n    return 1\n'
    assert extract_source("m.py", source).functions == []


def test_java_doc_comments_and_constructors() -> None:
    functions = _functions("Sample.java")
    ctor = functions["UserRepo.UserRepo"]
    assert ctor.docstring == "Creates the repository.\n@param names initial names"
    assert ctor.signature == "public UserRepo(List<String> names)"
    assert functions["UserRepo.find"].docstring == "Finds a user by index."
    assert functions["UserRepo.validate"].docstring is None  # a // comment is not a Javadoc
    assert "Visitor.visit" not in functions  # interface method without a body


def test_javascript_arrows_fields_and_object_methods() -> None:
    functions = _functions("sample.js")
    assert functions["add"].docstring == "Adds numbers."
    mul = functions["mul"]
    assert mul.docstring == "Multiplies."
    assert mul.code.startswith("const mul = (a, b) => {")
    assert mul.signature == "const mul = (a, b) =>"
    assert functions["Widget.handle"].code.startswith("handle = (event) => {")
    assert functions["Widget.render"].docstring == "Renders the widget."
    assert functions["api.remove"].signature == "remove: function (id)"


def test_typescript_decorators_exports_and_namespaces() -> None:
    functions = _functions("sample.ts")
    decorated = functions["Service.set"]
    assert decorated.code.startswith("@logged\nset(key: string, value: T): void {")
    assert decorated.start_line == 11
    assert functions["Service.get"].docstring == "Gets a value."
    assert functions["format"].code.startswith("export const format = (n: number): string => {")
    assert functions["Util.clamp"].start_line == 34
    tsx = _functions("sample.tsx")
    assert tsx["Button"].docstring == "A button."
    assert "<button className={cls}>" in tsx["Button"].code


def test_go_receivers_and_comment_runs() -> None:
    functions = _functions("sample.go")
    assert functions["Total"].docstring == "Total sums the prices.\nIt ignores nothing."
    assert functions["Item.String"].signature == "func (i Item) String() string"
    assert functions["Item.Discount"].signature == "func (i *Item) Discount(pct int)"
    assert functions["Item.Discount"].docstring is None
    assert functions["Cache.Get"].start_line == 33


def test_ruby_methods_class_methods_and_comments() -> None:
    functions = _functions("sample.rb")
    assert functions["Shop.Cart.initialize"].docstring == "Creates a cart.\nEmpty at first."
    assert functions["Shop.Cart.from"].signature == "def self.from(list)"
    assert functions["Shop.Cart.from"].docstring == "Builds a cart from a list."
    assert functions["Shop.Cart.add"].code.endswith("end")


def test_php_functions_and_methods() -> None:
    functions = _functions("sample.php")
    assert functions["format_price"].docstring == "Formats a price."
    assert functions["Invoice.addLine"].docstring == "Adds a line.\n\n@param string $line"
    assert functions["Invoice.empty"].signature == "public static function empty(): self"


def test_c_and_cpp_names_and_comments() -> None:
    c = _functions("sample.c")
    assert c["add"].docstring == "Adds two ints.\nReturns their sum."
    assert c["greet"].docstring == "Prints a greeting."
    assert "prototype_only" not in c
    cpp = _functions("sample.cpp")
    dot = cpp["geo.Point.dot"]  # defined outside the class, inside the namespace
    assert (dot.start_line, dot.docstring) == (23, "Dot product.")
    assert cpp["geo.Point.norm"].docstring == "Distance to the origin."
    assert cpp["maximum"].code.startswith("template <typename T>\nT maximum(T a, T b) {")


def test_csharp_methods_constructors_and_xml_docs() -> None:
    functions = _functions("Sample.cs")
    assert functions["Invoice.Invoice"].docstring == "<summary>\nCreates an invoice.\n</summary>"
    assert functions["Invoice.WithTax"].docstring == "Adds tax."
    assert functions["Invoice.Validate"].code.startswith("[Obsolete]\nprivate void Validate()")


def test_rust_impl_blocks_trait_impls_and_attributes() -> None:
    functions = _functions("sample.rs")
    assert functions["Counter.new"].docstring == "Makes a counter.\nStarts at zero."
    incr = functions["Counter.incr"]
    assert incr.code.startswith("#[inline]\npub fn incr(&mut self) -> u32 {")
    assert incr.signature == "pub fn incr(&mut self) -> u32"
    assert functions["Counter.fmt"].docstring is None
    assert functions["helper"].docstring == "Free function."


def test_languages_option_limits_extraction() -> None:
    only_go = ExtractOptions(languages=("go",))
    assert extract_file(FIXTURES, "sample.py", only_go).skipped == ("language 'python' is not enabled (languages: go)")
    assert extract_file(FIXTURES, "sample.go", only_go).functions


def test_bom_and_crlf_files_keep_their_indentation_and_docs() -> None:
    data = b'\xef\xbb\xbfdef f(a):\r\n    """Doc."""\r\n    b = a\r\n    return b\r\n'
    (fn,) = extract_source("crlf.py", data).functions
    assert (fn.docstring, fn.code) == ("Doc.", "def f(a):\r\n    b = a\r\n    return b")
    go = b"package x\r\n\r\n// Doc line.\r\nfunc F() int {\r\n\tx := 1\r\n\treturn x\r\n}\r\n"
    (fn,) = extract_source("crlf.go", go).functions
    assert fn.docstring == "Doc line."


def test_code_sharing_its_first_line_is_dedented_below_it() -> None:
    data = b"x = 1; function f(a) {\n      const b = a;\n      return b;\n    }\n"
    (fn,) = extract_source("inline.js", data).functions
    assert fn.code == "function f(a) {\n  const b = a;\n  return b;\n}"
