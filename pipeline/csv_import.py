"""Read introductions from a CSV file: the seed script's export, or plain ``name,text``.

The seed export has the columns Name, Location, Admission Pseudonym, Intro Call:
Interests, Intro Call: Background, Return Recurser and Welcome Post; a person's text
joins the welcome post with the two intro-call notes. Headers are matched ignoring case
and spacing; any other named column is kept in ``Document.extra`` under a snake_case key
("Admission Pseudonym" → ``admission_pseudonym``), and columns without a header are
ignored. A file whose headers fit neither format is an error, as is anything the csv
module cannot parse: ``CsvFormatError`` names the file and the line.

Rows without text are skipped (``read_csv_report`` says which and why); rows with the
same name are one person whose texts are joined in file order.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.demo import slugify
from pipeline.documents import Document
from pipeline.errors import CsvFormatError
from pipeline.markdown import clean_markdown

SEED_TEXT_COLUMNS = ("welcome post", "intro call: interests", "intro call: background")
PLAIN_TEXT_COLUMNS = ("text",)
NAME_COLUMN = "name"
EXPECTED = "expected columns 'name,text' or the seed export's 'Name, ..., Welcome Post'"


@dataclass
class SkippedRow:
    line: int
    name: str
    reason: str


@dataclass
class CsvImport:
    documents: list[Document]
    skipped: list[SkippedRow] = field(default_factory=list)
    format: str = "plain"  # "seed" or "plain"


@dataclass
class _Person:
    name: str
    texts: list[str] = field(default_factory=list)
    raws: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)


def read_csv(path: str | Path) -> list[Document]:
    """The documents of a seed-export or ``name,text`` CSV file, one per person."""
    return read_csv_report(path).documents


def read_csv_report(path: str | Path) -> CsvImport:
    """Like ``read_csv``, also telling which rows were skipped and the format found."""
    rows = _parse(path, _decode(path))
    if not rows:
        raise CsvFormatError(f"{path}, line 1: the file is empty")
    header_line, header = rows[0][0], [_normal(h) for h in rows[0][1]]
    fmt, text_columns = _detect(path, header_line, header)
    people: dict[str, _Person] = {}
    skipped: list[SkippedRow] = []
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise CsvFormatError(f"{path}, line {line}: {len(row)} fields, the header has {len(header)}")
        _add_row(dict(zip(header, row)), line, text_columns, people, skipped)
    return CsvImport(_documents(people.values()), skipped, fmt)


def _decode(path: str | Path) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CsvFormatError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CsvFormatError(f"{path}, line {line}: not UTF-8 text (save the file as UTF-8)") from exc


def _parse(path: str | Path, text: str) -> list[tuple[int, list[str]]]:
    """Every non-blank record with the line it starts on."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    records, start = [], 1
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                records.append((start, row))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise CsvFormatError(f"{path}, line {start}: {exc}") from exc
    return records


def _delimiter(text: str) -> str:
    first_line = text.split("\n", 1)[0]
    return max(",;\t", key=first_line.count)


def _normal(header: str) -> str:
    return " ".join(header.split()).casefold()


def _key(header: str) -> str:
    return re.sub(r"\W+", "_", header).strip("_")


def _detect(path, line: int, header: list[str]) -> tuple[str, tuple[str, ...]]:
    """The format of a file with this (normalised) header, and its text columns."""
    named = [h for h in header if h]
    if len(set(named)) != len(named):
        raise CsvFormatError(f"{path}, line {line}: a column name appears twice ({', '.join(named)})")
    if NAME_COLUMN in named and SEED_TEXT_COLUMNS[0] in named:
        return "seed", tuple(c for c in SEED_TEXT_COLUMNS if c in named)
    if NAME_COLUMN in named and PLAIN_TEXT_COLUMNS[0] in named:
        return "plain", PLAIN_TEXT_COLUMNS
    raise CsvFormatError(f"{path}, line {line}: {EXPECTED}; found {', '.join(named) or 'no names'}")


def _add_row(cells: dict[str, str], line: int, text_columns, people: dict, skipped: list) -> None:
    name = " ".join(cells[NAME_COLUMN].split())
    raws = [cells[c].strip() for c in text_columns if cells[c].strip()]
    texts = [t for t in (clean_markdown(r) for r in raws) if t]
    if not name or not texts:
        skipped.append(SkippedRow(line, name, "no name" if not name else "no text"))
        return
    person = people.setdefault(name.casefold(), _Person(name))
    person.texts += texts
    person.raws += raws
    for column, value in cells.items():
        if column and column != NAME_COLUMN and column not in text_columns and value.strip():
            person.extra.setdefault(_key(column), value.strip())


def _documents(people) -> list[Document]:
    documents, used = [], set()
    for person in people:
        person_id = _unique(slugify(person.name) or "person", used)
        text, raw = "\n".join(person.texts), "\n\n".join(person.raws)
        documents.append(Document(person_id, person.name, text, raw, person.extra))
    return documents


def _unique(slug: str, used: set[str]) -> str:
    candidate, n = slug, 1
    while candidate in used:
        n += 1
        candidate = f"{slug}-{n}"
    used.add(candidate)
    return candidate
