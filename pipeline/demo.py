"""The bundled demo: about eighty fictional people introducing themselves.

The CSV (``demo_data/introductions.csv``, columns ``name,group,text``) is read through
``importlib.resources`` so the demo works from an installed package too. ``group`` is
the interest group the text was written for; it lets the quality benchmark compare the
clusters found with the ones intended. Everyone in it is invented.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from importlib import resources

from pipeline.documents import Document
from pipeline.errors import CsvFormatError
from pipeline.markdown import clean_markdown

DEMO_CSV = resources.files("pipeline") / "demo_data" / "introductions.csv"
COLUMNS = ("name", "group", "text")
NO_GROUP = "none"  # the intended group of people who fit no interest group

_NOT_WORD = re.compile(r"[^\w]+")
_UNDECOMPOSABLE = str.maketrans({"ı": "i", "ø": "o", "ł": "l", "đ": "d", "ß": "ss", "æ": "ae", "œ": "oe"})


def slugify(name: str) -> str:
    """A stable id from a name: accents folded, lowercase, words joined by hyphens."""
    decomposed = unicodedata.normalize("NFKD", name.casefold().translate(_UNDECOMPOSABLE))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_WORD.sub("-", plain).strip("-_")


def _rows() -> list[dict[str, str]]:
    """The demo CSV's rows, checked to have the expected columns."""
    text = DEMO_CSV.read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise CsvFormatError(f"{DEMO_CSV}: line 1: expected columns {','.join(COLUMNS)}")
    return list(reader)


def _document(row: dict[str, str]) -> Document:
    raw = row["text"]
    return Document(
        person_id=slugify(row["name"]),
        name=row["name"],
        text=clean_markdown(raw),
        raw=raw,
        extra={"group": row["group"]},
    )


def load_demo() -> list[Document]:
    """One Document per demo person, in file order; ``extra["group"]`` is the intended group."""
    return [_document(row) for row in _rows()]


def demo_groups() -> dict[str, str]:
    """The intended group of each demo person, by person_id."""
    return {slugify(row["name"]): row["group"] for row in _rows()}
