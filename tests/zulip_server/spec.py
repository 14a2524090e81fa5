"""The Zulip OpenAPI spec: find the operation for a request and check both sides.

Checks done on every request (each failure is one string in the returned list):

- the method and path are an operation of the spec;
- every required parameter is present, and no parameter the operation does not
  declare is sent (this is what catches ``channel`` for ``stream``);
- each value decodes the way the spec says (JSON for ``content: application/json``
  parameters, integer/boolean text for plain ones) and matches its schema
  (type, enum, minimum, item types, ``additionalProperties`` of narrow objects).

Responses are checked against the schema documented for their status code, with
``allOf`` merged (see ``schema.py``). Statuses the spec does not document for the
operation (401, injected faults) are not checked.
"""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .schema import SchemaConverter, validation_errors

DEFAULT_SPEC = Path("/work/shared/zulip-openapi/zulip.yaml")
_METHODS = ("get", "post", "patch", "put", "delete")
_NOT_JSON_TYPES = ("string",)
# zulip 0.9.1 adds dont_block=true to *every* request it retries after an error: a client
# artefact the real server ignores, so it is not reported as an unknown parameter.
CLIENT_ARTEFACTS = frozenset({"dont_block"})


@dataclass
class Param:
    name: str
    location: str
    required: bool
    schema: dict
    is_json: bool

    def decode(self, raw: str) -> Any:
        """Turn the text sent on the wire into the value the server works with."""
        if not self.is_json and self.schema.get("type") in _NOT_JSON_TYPES:
            return raw
        try:
            return json.loads(raw)
        except ValueError:
            return raw


@dataclass
class Operation:
    method: str
    template: str
    params: dict[str, Param]
    responses: dict[str, Any]
    converter: SchemaConverter
    _schemas: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.method.upper()} {self.template}"

    def decode(self, raw: dict[str, str]) -> dict[str, Any]:
        """Decode every parameter the spec knows; unknown ones stay text."""
        return {k: self.params[k].decode(v) if k in self.params else v for k, v in raw.items()}

    def check_request(self, raw: dict[str, str]) -> list[str]:
        """Spec violations of one request's (path and query/form) parameters."""
        problems = [f"{self.key}: unknown parameter {name!r}" for name in raw
                    if name not in self.params and name not in CLIENT_ARTEFACTS]
        for name, param in self.params.items():
            if name not in raw:
                if param.required:
                    problems.append(f"{self.key}: missing required parameter {name!r}")
                continue
            problems += self.check_value(name, raw[name])
        return problems

    def check_value(self, name: str, raw: str) -> list[str]:
        """Violations of one declared parameter's value."""
        param = self.params[name]
        value = param.decode(raw)
        if param.schema.get("type") == "integer" and not isinstance(value, int):
            return [f"{self.key}: parameter {name!r}={raw!r} is not an integer"]
        return validation_errors(param.schema, value, f"{self.key} parameter {name!r}")

    def response_schema(self, status: int) -> dict | None:
        if status not in self._schemas:
            response = self.converter.resolve(self.responses.get(str(status)))
            content = (response or {}).get("content", {}).get("application/json", {})
            schema = content.get("schema")
            self._schemas[status] = None if schema is None else self.converter.convert(schema)
        return self._schemas[status]

    def check_response(self, status: int, body: Any) -> list[str]:
        """Spec violations of a response body (documented statuses only)."""
        schema = self.response_schema(status)
        if schema is None:
            return []
        return validation_errors(schema, body, f"{self.key} response {status}")


class Spec:
    """All operations of one OpenAPI document, with path matching."""

    def __init__(self, document: dict):
        self.document = document
        self.converter = SchemaConverter(document)
        self.operations = [op for path, item in document["paths"].items() for op in self._operations(path, item)]
        self.operations.sort(key=_specificity)
        self._patterns = {op.template: _template_regex(op.template) for op in self.operations}

    def _operations(self, template: str, item: dict):
        shared = item.get("parameters", [])
        for method in _METHODS:
            if method in item:
                op = item[method]
                params = [self._param(p) for p in [*shared, *op.get("parameters", [])]]
                yield Operation(method, template, {p.name: p for p in params}, op.get("responses", {}), self.converter)

    def _param(self, node: dict) -> Param:
        node = self.converter.resolve(node)
        content = node.get("content", {}).get("application/json")
        schema = content["schema"] if content else node.get("schema", {})
        required = bool(node.get("required")) or node["in"] == "path"
        return Param(node["name"], node["in"], required, self.converter.convert(schema), content is not None)

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        """The operation serving ``method path`` (path without /api/v1) and its path arguments."""
        for op in self.operations:
            if op.method != method.lower():
                continue
            found = self._patterns[op.template].fullmatch(path)
            if found and not op_path_problems(op, found.groupdict()):
                return op, found.groupdict()
        return None


def op_path_problems(op: Operation, args: dict[str, str]) -> list[str]:
    """Path arguments that do not fit their declared schema (e.g. an email for a user_id)."""
    return [p for name, value in args.items() if name in op.params for p in op.check_value(name, value)]


def _specificity(op: Operation) -> tuple[int, int]:
    """Literal segments first (/users/me), then typed ones (/users/{user_id} before /users/{email})."""
    path_params = [p for p in op.params.values() if p.location == "path"]
    return len(path_params), sum(p.schema.get("type") == "string" for p in path_params)


def _template_regex(template: str) -> re.Pattern:
    """``/a/{x}`` → ``/a/(?P<x>[^/]+)``; a ``{filename}`` may contain slashes."""
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.compile(pattern.replace("(?P<filename>[^/]+)", "(?P<filename>.+)"))


@functools.lru_cache(maxsize=2)
def load_spec(path: str | None = None) -> Spec:
    """Parse the spec once per process (about 0.3 s with the C YAML loader)."""
    path = path or os.environ.get("ZULIP_OPENAPI_SPEC") or str(DEFAULT_SPEC)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as handle:
        return Spec(yaml.load(handle, Loader=loader))
