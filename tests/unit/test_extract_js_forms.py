"""JavaScript and TypeScript function forms that name themselves by where they are stored.

``export default`` functions and arrows, CommonJS ``module.exports``/``exports.x`` and object
literal methods are indexed, each once, under a name a reader would look for: the file's stem
(or its folder's, for ``index`` files) for a module's own export, the export's name otherwise.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from core.domain import CodeFunction, RepoRef
from core.settings import Settings
from embedding.extract import ExtractOptions, body_hash, extract_source
from embedding.extract.functions import module_name
from embedding.source import GitSource
from tests.factories import make_repo
from tests.fakes.hash_encoder import HashEncoder
from tests.fakes.memory_index import MemoryIndex
from workers.services.indexing import IndexService
from workers.services.review import ReviewService

ALL_SIZES = ExtractOptions(min_function_lines=1)


def _extract(path: str, code: str) -> list[CodeFunction]:
    result = extract_source(path, textwrap.dedent(code).encode(), ALL_SIZES)
    assert result.skipped is None and result.warnings == []
    return result.functions


def _names(path: str, code: str) -> list[str]:
    return [fn.qualified_name for fn in _extract(path, code)]


# axios' lib/helpers/parseHeaders.js (trimmed): the form issue 9 found unindexed.
PARSE_HEADERS = """\
    import utils from './../utils.js';

    const ignoreDuplicateOf = utils.toObjectSet(['age', 'authorization', 'content-length']);

    export default rawHeaders => {
      const parsed = {};
      let key;
      let val;
      let i;

      rawHeaders && rawHeaders.split('\\n').forEach(function parser(line) {
        i = line.indexOf(':');
        key = line.substring(0, i).trim().toLowerCase();
        val = line.substring(i + 1).trim();
        if (!key || (parsed[key] && ignoreDuplicateOf[key])) {
          return;
        }
        parsed[key] = parsed[key] ? parsed[key] + ', ' + val : val;
      });

      return parsed;
    };
    """


def test_export_default_arrow_is_named_after_the_file() -> None:
    functions = {fn.qualified_name: fn for fn in _extract("lib/helpers/parseHeaders.js", PARSE_HEADERS)}
    assert list(functions) == ["parseHeaders", "parseHeaders.parser"]
    outer = functions["parseHeaders"]
    assert (outer.start_line, outer.end_line) == (5, 22)
    assert outer.signature == "export default rawHeaders =>"
    assert outer.code.startswith("export default rawHeaders => {") and outer.code.endswith("};")
    assert body_hash(outer.language, outer.code) == outer.body_hash
    assert functions["parseHeaders.parser"].start_line == 11  # the named inner callback, nested as before


@pytest.mark.parametrize(
    ("path", "code", "expected"),
    [
        ("src/a.js", "export default function (x) {\n  return x;\n}\n", ["a"]),
        ("src/b.js", "export default async function fetchAll(url) {\n  return url;\n}\n", ["fetchAll"]),
        ("src/c.mjs", "export default function* () {\n  yield 1;\n}\n", ["c"]),
        ("src/d.js", "export default async (x) => {\n  return x;\n};\n", ["d"]),
        ("src/e.js", "export default class {\n  run() {\n    return 1;\n  }\n}\n", ["e.run"]),
        ("src/f.js", "export default {\n  get(url) {\n    return url;\n  },\n};\n", ["get"]),
    ],
)
def test_export_default_forms(path: str, code: str, expected: list[str]) -> None:
    assert _names(path, code) == expected


@pytest.mark.parametrize(
    ("path", "code", "expected"),
    [
        ("lib/settle.js", "module.exports = function settle(resolve, reject) {\n  resolve();\n};\n", ["settle"]),
        ("lib/bind.js", "module.exports = (fn, thisArg) => {\n  return fn.bind(thisArg);\n};\n", ["bind"]),
        ("lib/headers/index.js", "module.exports = function (h) {\n  return h;\n};\n", ["headers"]),
        ("lib/util.js", "exports.isArray = function (v) {\n  return Array.isArray(v);\n};\n", ["isArray"]),
        ("lib/util.js", "module.exports.trim = (s) => {\n  return s.trim();\n};\n", ["trim"]),
        ("lib/util.js", "exports.default = function (v) {\n  return v;\n};\n", ["util"]),
        ("lib/api.js", "module.exports = {\n  get(url) {\n    return url;\n  },\n};\n", ["get"]),
        ("lib/api.js", "module.exports = class Client {\n  send() {\n    return 1;\n  }\n};\n", ["Client.send"]),
    ],
)
def test_commonjs_exports(path: str, code: str, expected: list[str]) -> None:
    assert _names(path, code) == expected


def test_commonjs_export_code_and_lines_cover_the_statement() -> None:
    (fn,) = _extract("lib/settle.js", "// settles\nmodule.exports = function settle(resolve) {\n  resolve();\n};\n")
    assert (fn.start_line, fn.end_line) == (2, 4)
    assert fn.code.startswith("module.exports = function settle(resolve) {")
    assert fn.signature == "module.exports = function settle(resolve)"


def test_object_literal_methods_of_every_kind() -> None:
    code = """\
        const api = {
          get(url) {
            return fetch(url);
          },
          post: function (url, body) {
            return fetch(url, body);
          },
          put: (url) => {
            return fetch(url);
          },
          'delete': async (url) => fetch(url),
        };
        """
    assert _names("src/api.js", code) == ["api.get", "api.post", "api.put", "api.delete"]


def test_typescript_and_tsx_default_exports() -> None:
    ts = "export default (header: string): number => {\n  return header.length;\n};\n"
    assert _names("src/length.ts", ts) == ["length"]
    assert _names("src/length.ts", "export = function (h: string): number {\n  return 1;\n};\n") == ["length"]
    tsx = "export default function ({ label }: Props) {\n  return <b>{label}</b>;\n}\n"
    assert _names("src/components/Badge/index.tsx", tsx) == ["Badge"]
    methods = "export const api = {\n  get(url: string): string {\n    return url;\n  },\n};\n"
    assert _names("src/api.ts", methods) == ["api.get"]


def test_a_function_is_reported_once_under_its_holders_name() -> None:
    code = """\
        const f = function g(a) {
          return a;
        };
        export const h = (a) => {
          return a;
        };
        export default function named(a) {
          return a;
        }
        describe("anonymous callbacks stay out", () => {
          it("works", () => {
            expect(1).toBe(1);
          });
        });
        """
    functions = _extract("src/forms.js", code)
    assert [fn.qualified_name for fn in functions] == ["f", "h", "named"]
    assert len({(fn.start_line, fn.end_line) for fn in functions}) == 3


def test_nested_functions_inside_exports_keep_their_outer_name() -> None:
    code = """\
        module.exports = function outer(a) {
          function inner(b) {
            return b;
          }
          return inner(a);
        };
        """
    assert _names("lib/wrap.js", code) == ["wrap", "wrap.inner"]


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("lib/helpers/parseHeaders.js", "parseHeaders"),
        ("lib/headers/index.ts", "headers"),
        ("index.js", "index"),
        ("src/Button.test.tsx", "Button"),
        ("./lib/.eslintrc.js", "eslintrc"),
        ("lib\\win\\path.js", "path"),
    ],
)
def test_module_name(path: str, name: str) -> None:
    assert module_name(path) == name


# --- through doppel: the review service and the CLI --------------------------------------------

REPO = RepoRef("acme/http")
# The same helper, copied into a CommonJS module by hand (renamed and lightly edited).
PARSE_HEADERS_COPY = """\
    module.exports = function (headers) {
      const out = {};
      let name;
      let value;
      let at;

      headers && headers.split('\\n').forEach(function each(row) {
        at = row.indexOf(':');
        name = row.substring(0, at).trim().toLowerCase();
        value = row.substring(at + 1).trim();
        if (!name || out[name]) {
          return;
        }
        out[name] = out[name] ? out[name] + ', ' + value : value;
      });

      return out;
    };
    """
UNRELATED = """\
    export function clamp(value, low, high) {
      if (value < low) {
        return low;
      }
      return value > high ? high : value;
    }

    export const retry = async (task, attempts) => {
      for (let n = 1; n <= attempts; n += 1) {
        try {
          return await task();
        } catch (error) {
          if (n === attempts) throw error;
        }
      }
    };
    """
FILES = {
    "lib/helpers/parseHeaders.js": textwrap.dedent(PARSE_HEADERS),
    "legacy/headers/index.js": textwrap.dedent(PARSE_HEADERS_COPY),
    "lib/helpers/misc.js": textwrap.dedent(UNRELATED),
}
BODY_LINE = 7  # `let key;`, inside the export default arrow and outside its inner callback


@pytest.mark.integration
def test_review_service_locates_and_matches_an_export_default_arrow(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, FILES)
    settings = Settings(data_dir=tmp_path / "data")
    encoder, index = HashEncoder(dim=256), MemoryIndex()
    indexer = IndexService(settings, encoder, index, progress=False)
    service = ReviewService(settings, encoder, index, indexer)
    source = GitSource(Path(repo.working_tree_dir or ""))

    located = service.locate(source, source.resolve("HEAD"), at=("lib/helpers/parseHeaders.js", BODY_LINE))
    assert (located.qualified_name, located.start_line) == ("parseHeaders", 5)

    matches = service.similar(source, REPO, at=("lib/helpers/parseHeaders.js", BODY_LINE), limit=5)
    elsewhere = [(m.target.path, m.target.qualified_name) for m in matches if m.target.path != located.path]
    assert elsewhere[0] == ("legacy/headers/index.js", "headers"), elsewhere  # the copy, indexed and found first


@pytest.mark.integration
@pytest.mark.slow
def test_cli_similar_at_a_line_of_an_export_default_arrow(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cli.main import main

    repo = make_repo(tmp_path, FILES)
    at = f"lib/helpers/parseHeaders.js:{BODY_LINE}"
    argv = ["similar", str(repo.working_tree_dir), "--data-dir", str(tmp_path / "data"), "--at", at, "-k", "5"]
    assert main([*argv, "--format", "json"]) == 0
    matches = json.loads(capsys.readouterr().out)
    elsewhere = [(m["path"], m["qualified_name"]) for m in matches if m["path"] != "lib/helpers/parseHeaders.js"]
    assert elsewhere[0] == ("legacy/headers/index.js", "headers"), elsewhere
