"""MapResult ↔ storable values (JSON text and array bytes). No SQL here.

Everything is encoded before a snapshot's transaction starts, so a result that cannot
be stored never leaves a trace in the database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from pipeline.documents import Document
from pipeline.result import Cluster, MapResult, Neighbour
from storage.errors import SnapshotError

ARRAYS = ("embeddings", "coords", "labels")
_NUMERIC_KINDS = "biuf"  # bool, int, unsigned, float: nothing that could hold objects


@dataclass
class EncodedArray:
    dtype: str
    shape: str
    data: bytes


@dataclass
class EncodedSnapshot:
    built_at: str
    model: str
    params: str
    notice: str | None
    clusters: str
    neighbours: str
    people: list[tuple[str, str, str, str, str]]
    arrays: dict[str, EncodedArray]


def encode_snapshot(result: MapResult) -> EncodedSnapshot:
    """Every part of a result as text and bytes; SnapshotError names what cannot be stored."""
    _check_lengths(result)
    try:
        return _encode(result)
    except (TypeError, ValueError, AttributeError) as exc:
        raise SnapshotError(f"a map result part cannot be stored: {exc}") from exc


def _encode(result: MapResult) -> EncodedSnapshot:
    return EncodedSnapshot(
        built_at=_encode_time(result.built_at),
        model=str(result.model),
        params=dump_json(result.params),
        notice=result.notice,
        clusters=encode_clusters(result.clusters),
        neighbours=encode_neighbours(result.neighbours),
        people=[_person_row(doc) for doc in result.people],
        arrays={name: encode_array(getattr(result, name), name) for name in ARRAYS},
    )


def decode_snapshot(header: dict, people: list[tuple], arrays: dict[str, tuple]) -> MapResult:
    try:
        return MapResult(
            people=[_person(row) for row in people],
            clusters=decode_clusters(header["clusters"]),
            neighbours=decode_neighbours(header["neighbours"]),
            model=header["model"],
            params=json.loads(header["params"]),
            built_at=datetime.fromisoformat(header["built_at"]),
            notice=header["notice"],
            **{name: decode_array(*arrays[name]) for name in ARRAYS},
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise SnapshotError(f"stored map {header.get('id')} cannot be read: {exc}") from exc


def dump_json(value) -> str:
    return json.dumps(value, default=_json_default, ensure_ascii=False, allow_nan=False)


def encode_array(array, name: str) -> EncodedArray:
    array = np.ascontiguousarray(array)
    if array.dtype.kind not in _NUMERIC_KINDS:
        raise SnapshotError(f"the map's {name} must be numeric, not {array.dtype}")
    return EncodedArray(array.dtype.str, json.dumps(list(array.shape)), array.tobytes())


def decode_array(dtype: str, shape: str, data: bytes) -> np.ndarray:
    kind = np.dtype(dtype)
    if kind.kind not in _NUMERIC_KINDS:
        raise ValueError(f"unexpected array type {dtype}")
    return np.frombuffer(data, dtype=kind).reshape(json.loads(shape)).copy()


def encode_clusters(clusters: dict[int, Cluster]) -> str:
    return dump_json([
        {"number": int(c.number), "members": [int(i) for i in c.members],
         "keywords": list(c.keywords), "sentences": list(c.sentences)}
        for c in clusters.values()
    ])


def decode_clusters(text: str) -> dict[int, Cluster]:
    return {item["number"]: Cluster(**item) for item in json.loads(text)}


def encode_neighbours(neighbours: list[list[Neighbour]]) -> str:
    return dump_json([
        [[int(n.index), float(n.similarity), list(n.shared_words)] for n in row]
        for row in neighbours
    ])


def decode_neighbours(text: str) -> list[list[Neighbour]]:
    return [[Neighbour(index, similarity, words) for index, similarity, words in row]
            for row in json.loads(text)]


def _person_row(doc: Document) -> tuple[str, str, str, str, str]:
    return (str(doc.person_id), doc.name, doc.text, doc.raw, dump_json(doc.extra))


def _person(row: tuple) -> Document:
    person_id, name, text, raw, extra = row
    return Document(person_id=person_id, name=name, text=text, raw=raw, extra=json.loads(extra))


def _encode_time(value: datetime) -> str:
    if not isinstance(value, datetime):
        raise SnapshotError(f"built_at must be a datetime, not {type(value).__name__}")
    return value.isoformat()


def _check_lengths(result: MapResult) -> None:
    parts = ("people", "neighbours", *ARRAYS)
    try:
        sizes = {name: len(getattr(result, name)) for name in parts}
    except TypeError as exc:
        raise SnapshotError(f"a map result with a part that is not a sequence: {exc}") from exc
    if len(set(sizes.values())) > 1:
        raise SnapshotError(f"a map result with parts of different lengths: {sizes}")


def _json_default(value):
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
