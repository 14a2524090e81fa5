"""Taking a person out of every stored snapshot, at once (issue 21, item 2).

Opting out scrubs their words; this also removes what still tied a snapshot to them: their
embedding row (zeroed), their user id (the row becomes an anonymous blank, ``GONE``), and
the neighbour lists through them. Rows keep their places, so a stored map stays whole
until the next build leaves them out; a snapshot holding a ``GONE`` row never serves its
map files again (they show the person). ``SCRUBBED_KEY`` changes with every withdrawal,
so every process answering from a map it holds in memory reads it again (``Answerer``).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections import defaultdict

import numpy as np

from storage.codec import decode_array, encode_array

GONE = ""  # the person id of a withdrawn row
SCRUBBED_KEY = "snapshots.scrubbed"  # changes whenever someone is withdrawn from snapshots


def withdraw(conn: sqlite3.Connection, user_id: str) -> None:
    """Blank the person's rows in every snapshot, with their embeddings and neighbours."""
    places: dict[int, list[int]] = defaultdict(list)
    for snapshot_id, position in conn.execute(
            "SELECT snapshot_id, position FROM snapshot_people WHERE person_id = ?", (user_id,)):
        places[snapshot_id].append(position)
    for snapshot_id, positions in places.items():
        _zero_embeddings(conn, snapshot_id, positions)
        _drop_neighbours(conn, snapshot_id, set(positions))
    conn.execute("UPDATE snapshot_people SET person_id = ?, name = '', text = '', raw = '', extra = '{}' "
                 "WHERE person_id = ?", (GONE, user_id))
    if places:
        conn.execute("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)",
                     (SCRUBBED_KEY, secrets.token_hex(8)))


def _zero_embeddings(conn: sqlite3.Connection, snapshot_id: int, positions: list[int]) -> None:
    row = conn.execute("SELECT dtype, shape, data FROM snapshot_arrays WHERE snapshot_id = ? "
                       "AND name = 'embeddings'", (snapshot_id,)).fetchone()
    if row is None:
        return
    vectors = decode_array(*row)
    vectors[[p for p in positions if p < len(vectors)]] = 0
    encoded = encode_array(np.asarray(vectors), "embeddings")
    conn.execute("UPDATE snapshot_arrays SET data = ? WHERE snapshot_id = ? AND name = 'embeddings'",
                 (encoded.data, snapshot_id))


def _drop_neighbours(conn: sqlite3.Connection, snapshot_id: int, positions: set[int]) -> None:
    (encoded,) = conn.execute("SELECT neighbours FROM snapshots WHERE id = ?", (snapshot_id,)).fetchone()
    rows = json.loads(encoded)
    rows = [[] if i in positions else [n for n in row if n[0] not in positions] for i, row in enumerate(rows)]
    conn.execute("UPDATE snapshots SET neighbours = ? WHERE id = ?",
                 (json.dumps(rows, ensure_ascii=False), snapshot_id))
