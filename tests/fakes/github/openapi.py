"""Checks recorded exchanges against GitHub's official OpenAPI description (``@octokit/openapi``).

For each request: a documented operation must match its method and path template; its JSON body
must validate against the operation's request schema; the fake's answer must use a documented
status and validate against that status's response schema. The description is OpenAPI 3.0, so
``nullable: true`` is rewritten to JSON Schema (``anyOf [..., null]``) before validating with
``jsonschema`` (draft 4, the dialect OpenAPI 3.0 derives from); ``$ref`` resolve into the components.

Install the description with ``npm install --prefix tests/.npm @octokit/openapi@23.0.2``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from tests.fakes.github.server import MINIMIZE_CLASSIFIERS, Exchange

REPO_ROOT = Path(__file__).resolve().parents[3]
OPENAPI_PACKAGE = REPO_ROOT / "tests" / ".npm" / "node_modules" / "@octokit" / "openapi"
OPENAPI_PATH = OPENAPI_PACKAGE / "generated" / "api.github.com.json"
SPEC_URI = "urn:github:openapi"
_METHODS = ("get", "post", "put", "patch", "delete")


def openapi_version() -> str | None:
    """The installed ``@octokit/openapi`` version, or ``None`` when it is not installed."""
    try:
        return json.loads((OPENAPI_PACKAGE / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def _nullable_to_jsonschema(node: Any) -> Any:
    if isinstance(node, list):
        return [_nullable_to_jsonschema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable_to_jsonschema(v) for k, v in node.items()}
    if out.pop("nullable", False) is True:
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        return {"anyOf": [out, {"type": "null"}]}
    return out


def _param_regex(m: re.Match[str]) -> str:
    """A path parameter: ``{path}`` (contents) may hold slashes, every other one may not."""
    name = m.group(1)
    return f"(?P<{name}>.+)" if name == "path" else f"(?P<{name}>[^/]+)"


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    operation_id: str
    pattern: re.Pattern[str]
    literal_segments: int


class OpenAPIChecker:
    """Validates exchanges against the description at ``path``."""

    def __init__(self, path: Path = OPENAPI_PATH) -> None:
        from jsonschema import Draft4Validator
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4

        raw = json.loads(path.read_text())
        self.spec: dict[str, Any] = {"paths": raw["paths"], "components": _nullable_to_jsonschema(raw["components"])}
        # Operation schemas can be inline too: convert only the parts validated below.
        for item in self.spec["paths"].values():
            for method in _METHODS:
                if method in item:
                    op = item[method]
                    if "requestBody" in op:
                        op["requestBody"] = _nullable_to_jsonschema(op["requestBody"])
                    op["responses"] = _nullable_to_jsonschema(op.get("responses", {}))
        resource = Resource.from_contents(self.spec, default_specification=DRAFT4)
        self._registry = Registry().with_resource(SPEC_URI, resource)
        self._validator_cls = Draft4Validator
        self.operations = self._operations()

    def _operations(self) -> list[Operation]:
        ops = []
        for template, item in self.spec["paths"].items():
            regex = re.sub(r"\\\{(\w+)\\\}", _param_regex, re.escape(template))
            literal = sum(1 for seg in template.split("/") if seg and not seg.startswith("{"))
            for method in _METHODS:
                if method in item:
                    ops.append(
                        Operation(
                            method.upper(),
                            template,
                            item[method].get("operationId", ""),
                            re.compile(f"^{regex}$"),
                            literal,
                        )
                    )
        # Prefer the most specific template: /pulls/comments/{id} before /pulls/{number}.
        return sorted(ops, key=lambda o: -o.literal_segments)

    def operation_for(self, method: str, path: str) -> Operation | None:
        for op in self.operations:
            if op.method == method and op.pattern.match(path):
                return op
        return None

    def _errors(self, pointer: str, instance: Any) -> list[str]:
        schema = {"$ref": f"{SPEC_URI}#/{pointer}"}
        validator = self._validator_cls(schema, registry=self._registry)
        found = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}" for e in found[:5]]

    def check(self, exchange: Exchange) -> list[str]:
        """Problems with one exchange; an empty list when it is what GitHub documents."""
        if exchange.graphql:
            return check_graphql(exchange)
        where = f"{exchange.method} {exchange.path}"
        op = self.operation_for(exchange.method, exchange.path)
        if op is None:
            return [f"{where}: no documented operation has this method and path"]
        item = self.spec["paths"][op.template][op.method.lower()]
        problems: list[str] = []
        request = item.get("requestBody", {}).get("content", {}).get("application/json")
        if exchange.body is not None:
            if request is None:
                problems.append(f"{where} ({op.operation_id}): sends a body but the operation documents none")
            else:
                pointer = _pointer(
                    "paths", op.template, op.method.lower(), "requestBody", "content", "application/json", "schema"
                )
                problems += [f"{where} ({op.operation_id}) request {p}" for p in self._errors(pointer, exchange.body)]
        elif request is not None and item["requestBody"].get("required"):
            problems.append(f"{where} ({op.operation_id}): the operation requires a body and none was sent")
        responses = item.get("responses", {})
        status = str(exchange.status)
        if status not in responses:
            problems.append(f"{where} ({op.operation_id}): answered {status}, documented {sorted(responses)}")
            return problems
        response = responses[status]
        if "$ref" in response:  # a shared response under components/responses
            name = response["$ref"].rsplit("/", 1)[-1]
            base = ("components", "responses", name)
            response = self.spec["components"]["responses"][name]
        else:
            base = ("paths", op.template, op.method.lower(), "responses", status)
        if "application/json" in response.get("content", {}) and exchange.response is not None:
            pointer = _pointer(*base, "content", "application/json", "schema")
            problems += [
                f"{where} ({op.operation_id}) response {status} {p}" for p in self._errors(pointer, exchange.response)
            ]
        return problems


def check_graphql(exchange: Exchange) -> list[str]:
    """GraphQL is not in the REST description: check the one mutation doppel sends by hand."""
    body = exchange.body if isinstance(exchange.body, dict) else {}
    query = body.get("query", "")
    data = ((body.get("variables") or {}).get("input")) or {}
    problems = []
    if exchange.method != "POST":
        problems.append("graphql: must be POST")
    if not re.search(
        r"mutation\s+\w*\s*\(\$input:\s*MinimizeCommentInput!\)\s*\{\s*minimizeComment\(input:\s*\$input\)", query
    ):
        problems.append(
            f"graphql: expected a minimizeComment mutation taking MinimizeCommentInput!, got {query[:120]!r}"
        )
    if not isinstance(data.get("subjectId"), str) or data.get("classifier") not in MINIMIZE_CLASSIFIERS:
        problems.append(
            f"graphql: minimizeComment input needs subjectId and a classifier in {sorted(MINIMIZE_CLASSIFIERS)}"
        )
    return problems


@lru_cache(maxsize=1)
def load_checker() -> OpenAPIChecker | None:
    """The checker, loaded once per process; ``None`` when the npm package is not installed."""
    return OpenAPIChecker() if OPENAPI_PATH.is_file() else None
