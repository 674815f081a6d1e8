"""The real-edit benchmark's pure parts: matching, the Jaccard band, negatives, layout and scoring."""

from __future__ import annotations

import dataclasses
import textwrap

import pytest

from benchmarks.realedit.fetch import is_source_path
from benchmarks.realedit.layout import HEAD_DIR, candidate_wrappings, place_functions
from benchmarks.realedit.manifest import Library, load_manifest, select
from benchmarks.realedit.match import (
    GramIndex,
    band_of,
    jaccard,
    match_functions,
    nested,
    sample_base,
    select_negatives,
    select_pairs,
    shingles,
    units,
)
from benchmarks.realedit.score import (
    CLONE_KINDS,
    candidate_records,
    legacy_kind,
    render_table,
    score_library,
    summarize,
    table_rows,
    verdicts_from_candidates,
    verdicts_from_findings,
)
from benchmarks.realedit.synthetic import (
    KINDS,
    SYNTH_DIR,
    clone_context,
    clone_truth,
    make_clones,
    pick_originals,
    place_clones,
    synthesize,
)
from core.domain import CodeFunction
from embedding.extract import ExtractOptions, extract_source

OPTIONS = ExtractOptions()


def functions(path: str, code: str) -> list[CodeFunction]:
    return extract_source(path, textwrap.dedent(code).encode(), OPTIONS).functions


def fake(
    path: str, qualified_name: str, code: str = "def f():\n    a = 1\n    return a", start: int = 1
) -> CodeFunction:
    lines = code.count("\n") + 1
    return CodeFunction("python", path, qualified_name, start, start + lines - 1, "", code, None, qualified_name)


# --- matching ------------------------------------------------------------------------------------
def test_functions_match_by_path_and_qualified_name() -> None:
    old = [fake("pkg/a.py", "Client.send"), fake("pkg/a.py", "helper"), fake("pkg/b.py", "helper")]
    new = [fake("pkg/a.py", "Client.send"), fake("pkg/b.py", "helper"), fake("pkg/a.py", "brand_new")]
    pairs = match_functions(old, new)
    assert [(o.path, o.qualified_name, n.path) for o, n in pairs] == [
        ("pkg/a.py", "Client.send", "pkg/a.py"),
        ("pkg/b.py", "helper", "pkg/b.py"),
    ]


def test_a_moved_file_matches_the_same_base_name_before_a_unique_name_elsewhere() -> None:
    old = [fake("lib/utils.js", "parse"), fake("lib/other/parse.js", "parse"), fake("lib/solo.js", "only_here")]
    new = [fake("lib/helpers/utils.js", "parse"), fake("src/moved.js", "only_here")]
    pairs = {(n.path, n.qualified_name): o.path for o, n in match_functions(old, new)}
    # Two old "parse" exist; the one in the file of the same base name wins (a directory move).
    assert pairs[("lib/helpers/utils.js", "parse")] == "lib/utils.js"
    # A path that is gone, a qualified name that is unique in the old release: matched anywhere.
    assert pairs[("src/moved.js", "only_here")] == "lib/solo.js"


def test_the_moved_file_rule_needs_the_path_gone_and_an_unambiguous_name() -> None:
    old = [fake("a.py", "run"), fake("b.py", "run"), fake("c.py", "other")]
    new = [fake("new.py", "run"), fake("c.py", "moved_in")]
    # "run" is ambiguous (two old files, neither named new.py); "c.py" still exists, so no rule applies.
    assert match_functions(old, new) == []


def test_nested_functions_and_repeated_names_are_not_units() -> None:
    found = functions(
        "m.py",
        """
        def outer(x):
            def inner(y):
                z = y + 1
                return z
            return inner(x)

        class A:
            @property
            def value(self):
                v = self._v
                return v

            @value.setter
            def value(self, v):
                self._v = v
                return None
        """,
    )
    assert {fn.qualified_name for fn in found} == {"outer", "outer.inner", "A.value"}
    assert {q for _, q, _ in nested(found)} == {"outer.inner"}
    assert [fn.qualified_name for fn in units(found)] == ["outer"]


def test_a_function_that_starts_on_the_line_where_its_sibling_ends_is_still_nested() -> None:
    found = functions(
        "lib/dispatch.js",
        """
        module.exports = function dispatch(config) {
          const adapter = config.adapter;
          return adapter(config).then(function onResolved(response) {
            const data = response.data;
            return data;
          }, function onRejected(reason) {
            const message = reason.message;
            throw new Error(message);
          });
        };
        """,
    )
    assert len(found) == 3
    inner = {q for _, q, _ in nested(found)}
    assert len(inner) == 2 and all(q.endswith(("onResolved", "onRejected")) for q in inner)
    assert len(units(found)) == 1


# --- Jaccard and pairs ---------------------------------------------------------------------------
def test_jaccard_is_over_token_trigrams_of_the_raw_text() -> None:
    a = shingles("python", "def f(a, b):\n    return a + b")
    b = shingles("python", "def f(a, c):\n    return a + c")
    assert jaccard(a, a) == 1.0
    assert 0.0 < jaccard(a, b) < 1.0
    # Renaming changes the raw text's grams (unlike doppel's identifier-normalised lexical score).
    assert jaccard(a, shingles("python", "def g(x, y):\n    return x + y")) < 0.5


@pytest.mark.parametrize(
    ("value", "band"),
    [(0.29, None), (0.3, "0.3-0.5"), (0.49, "0.3-0.5"), (0.5, "0.5-0.7"), (0.7, "0.7-0.95"), (0.95, "0.7-0.95"),
     (0.96, None)],
)  # fmt: skip
def test_bands(value: float, band: str | None) -> None:
    assert band_of(value) == band


def test_select_pairs_keeps_only_the_band_and_caps_with_a_seed() -> None:
    base = "def f(items):\n    total = 0\n    for item in items:\n        total += item.size\n    return total"
    near = base.replace("return total", "return total or 0")  # a small edit: inside the band
    same = base + "\n"  # identical text: above 0.95
    far = "def f(rows):\n    print(len(rows))\n    raise SystemExit(3)"  # unrelated: below 0.3
    matches = [
        (fake("a.py", "near", base), fake("a.py", "near", near)),
        (fake("a.py", "same", base), fake("a.py", "same", same)),
        (fake("a.py", "far", base), fake("a.py", "far", far)),
    ]
    kept = select_pairs(matches, cap=10, seed=0)
    assert [p.new.qualified_name for p in kept] == ["near"]
    assert 0.3 <= kept[0].jaccard <= 0.95 and kept[0].band is not None
    many = [(fake("a.py", f"n{i}", base), fake("a.py", f"n{i}", near)) for i in range(20)]
    assert select_pairs(many, cap=5, seed=1) == select_pairs(many, cap=5, seed=1)
    assert len(select_pairs(many, cap=5, seed=1)) == 5


# --- negatives -----------------------------------------------------------------------------------
def test_negatives_have_no_counterpart_and_no_lexical_near_copy() -> None:
    shared = "def {name}(items):\n    total = 0\n    for item in items:\n        total += item.size\n    return total"
    old = [
        fake("a.py", "kept", "def kept(x):\n    y = x * 2\n    return y"),
        fake("a.py", "summer", shared.format(name="summer")),
    ]
    new = [
        fake("a.py", "kept", "def kept(x):\n    y = x * 3\n    return y"),  # a counterpart: not a negative
        fake("b.py", "sum_sizes", shared.format(name="sum_sizes")),  # a new name, but a near-copy
        fake("b.py", "fresh", "def fresh(path):\n    with open(path) as fh:\n        return json.load(fh)"),
    ]
    assert [fn.qualified_name for fn in select_negatives(old, new, cap=10, seed=0)] == ["fresh"]
    assert len(select_negatives(old, new, cap=0, seed=0)) == 0


def test_gram_index_best_equals_the_brute_force_maximum() -> None:
    codes = ["def a(x):\n    return x + 1", "def b(y):\n    return [y, y]", "def c(z):\n    return z + 1 + 2"]
    sets = [shingles("python", code) for code in codes]
    query = shingles("python", "def q(x):\n    return x + 1 + 2")
    assert GramIndex(sets).best(query) == pytest.approx(max(jaccard(query, s) for s in sets))


def test_a_large_base_keeps_the_originals_files_and_samples_the_rest() -> None:
    files = {f"f{i}.py": [fake(f"f{i}.py", f"g{j}") for j in range(10)] for i in range(10)}
    paths, sampled = sample_base(files, keep={"f7.py"}, cap=30, seed=0)
    assert sampled and "f7.py" in paths and len(paths) == 3
    assert sample_base(files, keep=(), cap=1000, seed=0) == (sorted(files), False)


# --- layout --------------------------------------------------------------------------------------
def test_python_methods_are_placed_in_a_class_of_the_same_name_and_extract_once() -> None:
    source = """
    import os

    class Client:
        @staticmethod
        def build(url: str) -> str:
            \"\"\"Join the url.\"\"\"
            parts = url.split("/")
            return os.path.join(*parts)

        class Inner:
            def go(self):
                a = 1
                return a

    def top(x):
        y = x + 1
        return y
    """
    files, placed, dropped = place_functions(
        units(functions("pkg/c.py", source)), {"pkg/c.py": textwrap.dedent(source).encode()}, OPTIONS
    )
    assert dropped == []
    assert list(files) == [f"{HEAD_DIR}/pkg/c.py"]
    again = extract_source(f"{HEAD_DIR}/pkg/c.py", files[f"{HEAD_DIR}/pkg/c.py"].encode(), OPTIONS)
    assert not again.warnings
    names = sorted(fn.qualified_name for fn in again.functions)
    assert names == ["Client.Inner.go", "Client.build", "top"]
    assert sorted(p.head_qualified_name for p in placed) == names
    build = next(fn for fn in again.functions if fn.qualified_name == "Client.build")
    assert build.docstring == "Join the url." and "@staticmethod" in build.code


def test_javascript_class_methods_object_entries_and_export_assignments_stay_valid() -> None:
    source = """
    class Parser {
      parse(text) {
        const rows = text.split('\\n');
        return rows.map((r) => r.trim());
      }
    }

    const utils = {
      merge(a, b) {
        const out = Object.assign({}, a);
        return Object.assign(out, b);
      },
      pick: function (obj, key) {
        const value = obj[key];
        return value;
      }
    };

    /**
     * Says hello.
     */
    exports.hello = function (name) {
      const greeting = 'hi ' + name;
      return greeting;
    };
    """
    path = "lib/p.js"
    found = units(functions(path, source))
    # However the extractor names them (``exports.hello`` or ``hello``), each must come back as it was.
    assert len(found) == 4 and {"Parser.parse", "utils.merge", "utils.pick"} <= {fn.qualified_name for fn in found}
    files, placed, dropped = place_functions(found, {path: textwrap.dedent(source).encode()}, OPTIONS)
    assert dropped == []
    text = files[f"{HEAD_DIR}/{path}"]
    again = extract_source(f"{HEAD_DIR}/{path}", text.encode(), OPTIONS)
    assert not again.warnings, again.warnings
    assert sorted(fn.qualified_name for fn in again.functions) == sorted(fn.qualified_name for fn in found)
    by_name = {fn.qualified_name: fn for fn in again.functions}
    originals = {fn.qualified_name: fn for fn in found}
    assert all(by_name[name].body_hash == originals[name].body_hash for name in originals)
    hello = next(fn for fn in again.functions if "greeting" in fn.code)
    assert hello.docstring == "Says hello."
    assert "class Parser {" in text and "const utils = {" in text


def test_candidate_wrappings_try_top_level_first_then_the_longest_scope_chain() -> None:
    method = CodeFunction("javascript", "a.js", "A.B.m", 1, 3, "m()", "m() {\n  x();\n}", None, "h")
    wrappings = candidate_wrappings(method)
    assert [(w.kind, w.scopes) for w in wrappings] == [
        ("top", ()), ("class", ("A", "B")), ("class", ("A",)), ("object", ("A", "B")), ("object", ("A",)), ("object", ()),
    ]  # fmt: skip


def test_a_function_no_wrapping_gives_back_is_dropped_not_mangled() -> None:
    source = (
        "const defaults = {\n  transform: [function transform(data) {\n    const x = data;\n    return x;\n  }]\n};\n"
    )
    files, placed, dropped = place_functions(functions("lib/d.js", source), {"lib/d.js": source.encode()}, OPTIONS)
    assert [fn.qualified_name for fn in dropped] == ["defaults.transform"] and placed == [] and files == {}


# --- scoring -------------------------------------------------------------------------------------
TRUTH = {
    "library": "lib",
    "split": "report",
    "language": "python",
    "pairs": [
        {"head": {"path": "doppel_head/a.py", "qualified_name": f"f{i}"}, "base": {"path": "a.py", "qualified_name": f"f{i}"},
         "jaccard": j, "band": band_of(j), "language": "python"}
        for i, j in enumerate((0.4, 0.6, 0.8, 0.9))
    ],
    "negatives": [{"head": {"path": "doppel_head/b.py", "qualified_name": n}, "language": "python"} for n in ("n0", "n1")],
}  # fmt: skip


def _finding(kind: str, function: str, target_path: str, target: str) -> dict:
    return {"kind": kind, "function": {"path": "doppel_head/" + ("b.py" if function.startswith("n") else "a.py"),
            "qualified_name": function}, "target": {"path": target_path, "qualified_name": target}}  # fmt: skip


def test_scoring_tells_caught_other_target_related_only_missed_and_false_alarms() -> None:
    review = {
        "findings": [
            _finding("duplicate", "f0", "a.py", "f0"),  # caught
            _finding("related", "f0", "z.py", "zz"),
            _finding("duplicate", "f1", "a.py", "twin"),  # flagged against another target
            _finding("related", "f2", "a.py", "f2"),  # related only
            _finding("intra_pr", "f3", "doppel_head/a.py", "f0"),  # not a verdict on the original: missed
            _finding("duplicate", "n1", "a.py", "f0"),  # a false alarm
            _finding("related", "n0", "a.py", "f0"),  # related is no alarm
        ]
    }
    outcomes = score_library(TRUTH, {"today": verdicts_from_findings(review)})
    assert [o.result for o in outcomes if o.role == "pair"] == ["caught", "other_target", "related_only", "missed"]
    row = summarize(outcomes, "lib", "today")
    assert (row.pairs, row.caught, row.other_target, row.related_only) == (4, 1, 1, 1)
    assert row.bands == {"0.3-0.5": (1, 1), "0.5-0.7": (0, 1), "0.7-0.95": (0, 2)}
    assert (row.negatives, row.false_alarms, row.false_alarm_rate) == (2, 1, 0.5)


def test_legacy_verdict_from_candidates() -> None:
    assert legacy_kind(0.5, 0.8) == "duplicate"  # 0.05 + 0.72 = 0.77
    assert legacy_kind(0.9, 0.6) == "related"  # 0.09 + 0.54 = 0.63
    assert legacy_kind(0.9, 0.5) is None
    assert legacy_kind(0.0, 0.0, identical=True) == "duplicate"
    candidates = [
        {"function": {"path": "doppel_head/a.py", "qualified_name": "f0"}, "target": {"path": "a.py", "qualified_name": "f0"},
         "kind": "related", "features": {"cosine": 0.95, "lexical": 0.8}},
        {"function": {"path": "doppel_head/b.py", "qualified_name": "n0"}, "target": {"path": "a.py", "qualified_name": "f1"},
         "kind": None, "features": {"cosine": 0.3, "lexical": 0.2}},
    ]  # fmt: skip
    outcomes = score_library(TRUTH, {"legacy": verdicts_from_candidates(candidates)})
    assert [o.result for o in outcomes if o.role == "pair"][0] == "caught"
    records = candidate_records(TRUTH, candidates)
    assert [(r["label"], r["function_set"]) for r in records] == [(1, "pair"), (0, "negative")]
    assert (records[0]["jaccard"], records[0]["band"]) == (0.4, "0.3-0.5")


# --- synthetic mode ------------------------------------------------------------------------------
PY_RELEASE = """
import os


class Store:
    def load(self, path, default=None):
        \"\"\"Read a JSON file.\"\"\"
        full = os.path.join(self.root, path)
        if not os.path.exists(full):
            return default
        with open(full) as handle:
            return handle.read()


def summarize(rows, limit):
    seen = set()
    kept = []
    for row in rows:
        if row.key in seen:
            continue
        seen.add(row.key)
        kept.append(row)
    return kept[:limit]


def short(x):
    y = x + 1
    return y


def outer(values):
    def inner(v):
        w = v * 2
        total = w + 1
        return total
    result = [inner(v) for v in values]
    extra = len(result)
    return result, extra
"""

JS_RELEASE = """
class Parser {
  parse(text, limit) {
    const rows = text.split('\\n');
    const kept = rows.slice(0, limit);
    return kept.map((r) => r.trim());
  }
}

/**
 * Sums the prices.
 */
function total(items, rate) {
  let sum = 0;
  for (const item of items) {
    sum += item.price;
  }
  return sum * rate;
}

module.exports = function merge(a, b) {
  const out = Object.assign({}, a);
  Object.assign(out, b);
  const keys = Object.keys(out);
  return keys.length ? out : null;
};
"""


def _synthetic(path: str, source: str, keep_docs: bool = True) -> tuple[list[CodeFunction], dict, list, dict]:
    release = functions(path, source)
    originals = pick_originals(release, cap=10, min_lines=5, seed=0)
    sources = {path: textwrap.dedent(source).encode()}
    files, placed, dropped = synthesize(originals, sources, OPTIONS, seed=0, keep_docs=keep_docs)
    return originals, files, placed, dropped


def _docstrings(files: dict, placed: list, original: str) -> set[str | None]:
    found = set()
    for spot in placed:
        if spot.clone.original.qualified_name == original:
            extracted = extract_source(spot.head_path, files[spot.head_path].encode(), OPTIONS).functions
            found |= {fn.docstring for fn in extracted if fn.qualified_name == spot.head_qualified_name}
    return found


def _assert_each_clone_extracts_back_once(files: dict, truth: list[dict]) -> None:
    extracted = {path: extract_source(path, text.encode(), OPTIONS).functions for path, text in files.items()}
    for entry in truth:
        path, name = entry["head"]["path"], entry["head"]["qualified_name"]
        hits = [fn for fn in extracted[path] if fn.qualified_name == name]
        assert len(hits) == 1 and hits[0].start_line == entry["head_line"], entry


def test_originals_are_long_enough_units_with_a_body_found_once() -> None:
    release = functions("pkg/store.py", PY_RELEASE)
    summarize_fn = next(fn for fn in release if fn.qualified_name == "summarize")
    twin = dataclasses.replace(summarize_fn, path="pkg/other.py", qualified_name="twin")
    names = [fn.qualified_name for fn in pick_originals(release, cap=10, min_lines=5, seed=0)]
    # ``short`` is under 5 lines, ``outer.inner`` is nested: neither is an original.
    assert names == ["Store.load", "outer", "summarize"]
    # A body the base holds twice has two originals: it is left out.
    assert "summarize" not in [fn.qualified_name for fn in pick_originals([*release, twin], 10, 5, 0)]
    assert len(pick_originals(release, cap=2, min_lines=5, seed=3)) == 2
    assert pick_originals(release, 2, 5, 3) == pick_originals(release, 2, 5, 3)


def test_python_clones_of_each_kind_are_placed_as_their_originals_and_extract_back_once() -> None:
    originals, files, placed, dropped = _synthetic("pkg/store.py", PY_RELEASE)
    assert dropped == {"clone_failed": 0, "unchanged": 0, "unplaceable": 0}
    assert sorted(files) == [f"{SYNTH_DIR}/renamed/pkg/store.py", f"{SYNTH_DIR}/renamed_edited/pkg/store.py"]
    truth = clone_truth(placed)
    assert len(truth) == 2 * len(originals)
    assert {(t["base"]["qualified_name"], t["kind"]) for t in truth} == {
        (fn.qualified_name, kind.value) for fn in originals for kind in KINDS
    }
    _assert_each_clone_extracts_back_once(files, truth)
    for entry in truth:  # each clone is its original's copy: other code, the same path below its kind's folder
        assert entry["head"]["path"] == f"{SYNTH_DIR}/{entry['kind']}/{entry['base']['path']}"
    method = [t for t in truth if t["base"]["qualified_name"] == "Store.load"]
    assert all(t["head"]["qualified_name"].startswith("Store.") for t in method)  # wrapped in its class
    by_hash = {fn.body_hash for fn in originals}
    assert not any(spot.clone.body_hash in by_hash for spot in placed)
    # Deterministic for a seed.
    assert _synthetic("pkg/store.py", PY_RELEASE)[1] == files


def test_javascript_clones_of_methods_functions_and_module_exports_extract_back_once() -> None:
    originals, files, placed, dropped = _synthetic("lib/p.js", JS_RELEASE)
    assert len(originals) == 3 and sum(dropped.values()) == 0
    truth = clone_truth(placed)
    assert len(truth) == 6
    _assert_each_clone_extracts_back_once(files, truth)
    parse = next(spot for spot in placed if spot.clone.original.qualified_name == "Parser.parse")
    assert parse.head_qualified_name == "Parser.parse"  # the clone maker keeps method names
    # Given in a class body, the bare method parses, so its parameters are renamed too.
    assert "text" not in parse.clone.code.split("{")[0]
    assert "class Parser {" in files[parse.head_path]


@pytest.mark.parametrize(("path", "source", "original", "doc"), [
    ("pkg/store.py", PY_RELEASE, "Store.load", "Read a JSON file."),
    ("lib/p.js", JS_RELEASE, "total", "Sums the prices."),
])  # fmt: skip
def test_clones_keep_their_originals_doc_unless_told_to_drop_it(
    path: str, source: str, original: str, doc: str
) -> None:
    # The encoder embeds the docstring with the code: a clone without it is a copy that also lost its doc.
    _, files, placed, _ = _synthetic(path, source)
    assert _docstrings(files, placed, original) == {doc}
    _, files, placed, _ = _synthetic(path, source, keep_docs=False)
    assert _docstrings(files, placed, original) == {None}


def test_clone_contexts_make_bare_methods_and_php_parse() -> None:
    assert clone_context("javascript", "function f(a) {\n  return a;\n}") == ("", "")
    assert clone_context("javascript", "async get(key) {\n  return key;\n}")[0].startswith("(class")
    assert clone_context("php", "function f($a) {\n  return $a;\n}") == ("<?php\n", "")
    assert "class" in clone_context("php", "public function f($a) {\n  return $a;\n}")[0]
    assert clone_context("python", "def f(a):\n    return a") == ("", "")


def test_an_original_no_wrapping_gives_back_drops_both_clones_as_unplaceable() -> None:
    source = (
        "const defaults = {\n  transform: [function transform(data) {\n    const x = data;\n    const y = x;\n"
        "    return y;\n  }]\n};\n"
    )
    (original,) = functions("lib/d.js", source)
    clones, dropped = make_clones(original, source.encode(), OPTIONS, seed=0)
    assert clones == [] and dropped == {"unplaceable": len(KINDS)}


def test_clones_whose_names_clash_in_one_file_go_to_the_next_slot() -> None:
    originals, _, placed, _ = _synthetic("pkg/store.py", PY_RELEASE)
    clone = placed[0].clone
    twin = dataclasses.replace(clone, original=originals[-1])  # the same kind, file and qualified name
    files, again, dropped = place_clones([clone, twin], OPTIONS)
    assert dropped == [] and len(again) == 2
    assert sorted(spot.head_path for spot in again) == [
        f"{SYNTH_DIR}/{clone.kind.value}-2/pkg/store.py", f"{SYNTH_DIR}/{clone.kind.value}/pkg/store.py"
    ]  # fmt: skip


SYNTH_TRUTH = {
    "library": "lib",
    "split": "report",
    "language": "python",
    "mode": "synthetic",
    "clones": [
        {"head": {"path": f"doppel_synth/{kind}/a.py", "qualified_name": f"c{i}"},
         "base": {"path": "a.py", "qualified_name": f"f{i}"}, "kind": kind, "language": "python", "head_line": 1}
        for kind in CLONE_KINDS for i in range(2)
    ],
    "negatives": [{"head": {"path": "doppel_head/b.py", "qualified_name": "n0"}, "language": "python"}],
    "head_hashes": [["doppel_synth/renamed/a.py", "c0", 1, "h-same"], ["doppel_head/b.py", "n0", 1, "h-n0"]],
    "base_hashes": [["a.py", "f0", 3, "h-same"], ["a.py", "f1", 9, "h-f1"]],
}  # fmt: skip


def _clone_finding(kind: str, clone_kind: str, name: str, target_path: str, target: str) -> dict:
    return {"kind": kind, "function": {"path": f"doppel_synth/{clone_kind}/a.py", "qualified_name": name},
            "target": {"path": target_path, "qualified_name": target}}  # fmt: skip


def test_synthetic_scoring_counts_recall_per_clone_kind_and_ignores_intra_pr() -> None:
    review = {
        "findings": [
            _clone_finding("duplicate", "renamed", "c0", "a.py", "f0"),  # caught
            _clone_finding("intra_pr", "renamed", "c1", "doppel_synth/renamed_edited/a.py", "c1"),
            _clone_finding("duplicate", "renamed", "c1", "a.py", "f1"),  # caught, beside its intra_pr
            _clone_finding("intra_pr", "renamed_edited", "c0", "doppel_synth/renamed/a.py", "c0"),  # only intra: missed
            _clone_finding("related", "renamed_edited", "c1", "a.py", "f1"),  # related only
            {"kind": "duplicate", "function": {"path": "doppel_head/b.py", "qualified_name": "n0"},
             "target": {"path": "a.py", "qualified_name": "f0"}},  # a false alarm
        ]
    }  # fmt: skip
    outcomes = score_library(SYNTH_TRUTH, {"today": verdicts_from_findings(review)})
    assert [(o.clone_kind, o.result) for o in outcomes if o.role == "clone"] == [
        ("renamed", "caught"), ("renamed", "caught"), ("renamed_edited", "missed"), ("renamed_edited", "related_only"),
    ]  # fmt: skip
    row = summarize(outcomes, "lib", "today", "clone")
    assert (row.pairs, row.caught, row.related_only, row.recall) == (4, 2, 1, 0.5)
    assert row.bands == {"renamed": (2, 2), "renamed_edited": (0, 2)}
    assert (row.negatives, row.false_alarms) == (1, 1)
    # The real-mode view of the same outcomes has no copies: clones are never counted as pairs.
    assert summarize(outcomes, "lib", "today").pairs == 0
    table = render_table(table_rows(outcomes, "clone"), role="clone")
    assert "| renamed | renamed_edited |" in table and "| report / all | today | 4 | 0.50 (2/4) | 1.00 (2/2) |" in table


def test_candidate_records_label_clones_by_kind_and_tell_identical_bodies() -> None:
    candidates = [
        {"function": {"path": "doppel_synth/renamed/a.py", "qualified_name": "c0", "start_line": 1},
         "target": {"path": "a.py", "qualified_name": "f0", "start_line": 3}, "kind": "duplicate",
         "features": {"cosine": 0.99, "lexical": 0.9}},
        {"function": {"path": "doppel_synth/renamed/a.py", "qualified_name": "c0", "start_line": 1},
         "target": {"path": "a.py", "qualified_name": "f1", "start_line": 9}, "kind": None,
         "features": {"cosine": 0.5, "lexical": 0.3}},
        {"function": {"path": "doppel_head/b.py", "qualified_name": "n0", "start_line": 1},
         "target": {"path": "a.py", "qualified_name": "f1", "start_line": 9}, "kind": None,
         "features": {"cosine": 0.4, "lexical": 0.2}},
    ]  # fmt: skip
    records = candidate_records(SYNTH_TRUTH, candidates)
    assert [(r["function_set"], r.get("clone_kind"), r["label"], r["identical"]) for r in records] == [
        ("clone", "renamed", 1, True), ("clone", "renamed", 0, False), ("negative", None, 0, False),
    ]  # fmt: skip
    assert {r["mode"] for r in records} == {"synthetic"}
    # Real-mode records say their mode; without hashes in the truth, ``identical`` is the candidate's feature.
    (real,) = candidate_records(TRUTH, candidates[2:])
    assert (real["mode"], real["function_set"], real["identical"]) == ("real", "negative", False)


# --- manifest and fetching -----------------------------------------------------------------------
def test_the_manifest_covers_the_languages_and_both_splits() -> None:
    libraries = load_manifest()
    by_language: dict[str, dict[str, int]] = {}
    for lib in libraries:
        group = "js/ts" if lib.language in ("javascript", "typescript") else lib.language
        by_language.setdefault(group, {"calibrate": 0, "report": 0})[lib.split] += 1
    assert by_language["python"]["calibrate"] >= 3 and by_language["python"]["report"] >= 3
    assert by_language["js/ts"]["calibrate"] >= 3 and by_language["js/ts"]["report"] >= 3
    others = {k: v for k, v in by_language.items() if k not in ("python", "js/ts")}
    assert len(others) >= 2 and all(v["calibrate"] >= 1 and v["report"] >= 1 for v in others.values())
    assert {lib.name for lib in select(libraries, "report")} | {lib.name for lib in select(libraries, "calibrate")} == {
        lib.name for lib in libraries
    }


def test_manifest_entries_are_checked() -> None:
    with pytest.raises(ValueError, match="registry"):
        Library("x", "cpan", "python", "1", "2", "report")
    with pytest.raises(ValueError, match="split"):
        Library("x", "pypi", "python", "1", "2", "train")
    with pytest.raises(ValueError, match="unknown libraries"):
        select(load_manifest(), "all", "no-such-library")


@pytest.mark.parametrize(
    ("path", "kept"),
    [("httpx/_client.py", True), ("tests/test_client.py", False), ("pkg/test_x.py", False), ("lib/a.spec.ts", False),
     ("src/types.d.ts", False), ("docs/conf.py", False), ("examples/app.js", False), ("echo_test.go", False),
     ("middleware/rate_limiter.go", True), ("lib/_vendor/six.py", False), ("dist/axios.js", False)],
)  # fmt: skip
def test_source_paths(path: str, kept: bool) -> None:
    assert is_source_path(path) is kept
