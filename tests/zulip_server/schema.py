"""Turn Zulip's OpenAPI 3.0 schemas into plain JSON Schema and validate with it.

Zulip writes many schemas as ``allOf: [Base, {additionalProperties: false,
properties: {field: {}}}]``; validated literally, the second part rejects every
field it only names, so ``allOf`` parts are merged into one schema first (what
Zulip's own test-suite does). ``nullable`` becomes a ``null`` type, ``oneOf``
becomes ``anyOf`` (Zulip's variants overlap), and documentation keys are dropped.
"""

from __future__ import annotations

from typing import Any

import jsonschema

_DOC_KEYS = {"description", "example", "examples", "deprecated", "x-curl-examples-parameters"}


class SchemaConverter:
    """Resolve ``$ref``s against one OpenAPI document and normalise schemas."""

    def __init__(self, document: dict):
        self.document = document
        self._refs: dict[str, dict] = {}

    def convert(self, schema: Any) -> Any:
        """Return a JSON-Schema (draft 7) equivalent of an OpenAPI schema."""
        return _nullable_to_type(self._merged(schema))

    def resolve(self, node: Any) -> Any:
        """Follow a ``$ref`` (and chains of them) to the node it names."""
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if ref not in self._refs:
                target: Any = self.document
                for part in ref.lstrip("#/").split("/"):
                    target = target[part]
                self._refs[ref] = target
            node = self._refs[ref]
        return node

    def _merged(self, schema: Any) -> Any:
        schema = self.resolve(schema)
        if isinstance(schema, list):
            return [self._merged(item) for item in schema]
        if not isinstance(schema, dict):
            return schema
        out: dict = {}
        for key, value in schema.items():
            if key in _DOC_KEYS or key.startswith("x-") or key == "allOf":
                continue
            if key == "properties":
                out[key] = {name: self._merged(sub) for name, sub in value.items()}
            elif key in ("oneOf", "anyOf"):
                out["anyOf"] = [self._merged(sub) for sub in value]
            elif key in ("items", "additionalProperties", "not"):
                out[key] = self._merged(value)
            else:
                out[key] = value
        for part in schema.get("allOf", []):
            out = merge_schemas(out, self._merged(part))
        return out


def merge_schemas(a: dict, b: dict) -> dict:
    """Merge two already-normalised schemas as ``allOf`` would constrain them."""
    out = dict(a)
    for key, value in b.items():
        if key not in out:
            out[key] = value
        elif key == "properties":
            props = dict(out[key])
            for name, sub in value.items():
                props[name] = merge_schemas(props[name], sub) if name in props else sub
            out[key] = props
        elif key == "required":
            out[key] = sorted(set(out[key]) | set(value))
        elif key == "additionalProperties":
            out[key] = False if value is False or out[key] is False else value
        elif key == "nullable":
            out[key] = bool(out[key] or value)
        elif key == "enum":
            out[key] = [item for item in out[key] if item in value]
        elif isinstance(value, dict) and isinstance(out[key], dict):
            out[key] = merge_schemas(out[key], value)
        else:
            out[key] = value
    return out


def _nullable_to_type(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_nullable_to_type(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _nullable_to_type(value) for key, value in schema.items() if key != "nullable"}
    if "properties" in schema:
        out["properties"] = {k: _nullable_to_type(v) for k, v in schema["properties"].items()}
    if schema.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        if "anyOf" in out:
            out["anyOf"] = [*out["anyOf"], {"type": "null"}]
    return out


def validation_errors(schema: dict, instance: Any, where: str) -> list[str]:
    """Describe how ``instance`` breaks ``schema``; empty when it conforms."""
    validator = jsonschema.Draft7Validator(schema)
    messages = []
    for error in validator.iter_errors(instance):
        best = jsonschema.exceptions.best_match([error])
        path = "/".join(str(p) for p in best.absolute_path) or "(root)"
        messages.append(f"{where}: at {path}: {_shorten(best.message)}")
    return messages


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
