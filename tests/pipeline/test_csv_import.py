"""read_csv: the seed export and plain name,text files, and clear errors for broken ones."""

import pytest

from pipeline.csv_import import read_csv, read_csv_report
from pipeline.errors import CsvFormatError

SEED_HEADER = "Name,Location,Admission Pseudonym,Intro Call: Interests,Intro Call: Background,Return Recurser,Welcome Post"


@pytest.fixture
def write(tmp_path):
    """Write text (or bytes) to a CSV file in a temporary folder and return its path."""

    def _write(content, name="people.csv"):
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
        return path

    return _write


def test_seed_export_joins_post_and_notes(write):
    """A seed row's text joins the cleaned welcome post with the interests and background notes."""
    path = write(SEED_HEADER + '\nAda Lovelace,London,Blue Fox,"**compilers**, music",maths,No,'
                 '"Hi! I build `x` engines.\n\n> quoted\n\nsee https://a.org"\n')
    report = read_csv_report(path)
    assert report.format == "seed"
    [doc] = report.documents
    assert doc.name == "Ada Lovelace" and doc.person_id == "ada-lovelace"
    assert doc.text.split("\n") == ["Hi! I build engines.", "see", "compilers, music", "maths"]
    assert "> quoted" in doc.raw and "**compilers**" in doc.raw
    assert doc.extra == {"location": "London", "admission_pseudonym": "Blue Fox", "return_recurser": "No"}


def test_plain_name_text_with_any_case_and_extra_columns(write):
    """A name,text file is read whatever the header case; other columns land in extra."""
    docs = read_csv(write(" NAME ,Text,Group\nBo,I knit.,crafts\nCy,I climb.,\n"))
    assert [(d.name, d.text, d.extra) for d in docs] == [("Bo", "I knit.", {"group": "crafts"}), ("Cy", "I climb.", {})]


def test_semicolons_and_crlf(write):
    """Semicolon delimiters and Windows line ends are read like a plain file."""
    docs = read_csv(write("name;text\r\nZoë;Ich mag Käse, und Brot\r\n"))
    assert [(d.name, d.text) for d in docs] == [("Zoë", "Ich mag Käse, und Brot")]


def test_bom_header_is_recognised(write):
    """A BOM before the header does not hide the first column's name."""
    docs = read_csv(write("\ufeffname,text\r\nZoë,Ich mag Käse\r\n".encode("utf-8")))
    assert [(d.person_id, d.name, d.text) for d in docs] == [("zoe", "Zoë", "Ich mag Käse")]


def test_same_name_is_one_person_with_joined_texts(write):
    """Rows with the same name (ignoring case and spacing) become one document."""
    docs = read_csv(write("name,text\nAna  Lopez,I paint.\nBo,I knit.\nana lopez,I sing.\n"))
    assert [(d.name, d.text) for d in docs] == [("Ana Lopez", "I paint.\nI sing."), ("Bo", "I knit.")]


def test_different_names_with_the_same_slug_get_unique_ids(write):
    """Names that slug alike still get distinct person ids."""
    docs = read_csv(write("name,text\nJo Ng,a\nJo-Ng,b\nJo.Ng!,c\n"))
    assert [d.person_id for d in docs] == ["jo-ng", "jo-ng-2", "jo-ng-3"]


def test_rows_without_text_are_skipped_and_reported(write):
    """Rows with no text (or only markup, or no name) are skipped, with their line and reason."""
    report = read_csv_report(write('name,text\nAl,\nBo,"```\ncode\n```"\n,orphan text\nCy,hello\n'))
    assert [d.name for d in report.documents] == ["Cy"]
    assert [(s.line, s.name, s.reason) for s in report.skipped] == [(2, "Al", "no text"), (3, "Bo", "no text"), (6, "", "no name")]


def test_header_only_file_has_no_documents(write):
    """A file with a header and no rows gives no documents and no error."""
    assert read_csv(write("name,text\n")) == []


@pytest.mark.parametrize(
    "content, line, says",
    [
        ("", 1, "empty"),
        ("\n\n", 1, "empty"),
        ("who,what\nA,b\n", 1, "expected columns"),
        ("name,text,text\nA,b,c\n", 1, "twice"),
        ('name,text\nA,ok\nB,"never closed\nC,d\n', 3, "unexpected end of data"),
        ("name,text\nA,ok\nB,one,two\n", 3, "3 fields"),
        ('name,text\nA,ok\n\n"B" x,c\n', 4, "expected after"),
        ("name,text\nA,ok\nB,caf\xe9 ok\n".encode("latin-1"), 3, "UTF-8"),
    ],
    ids=["empty", "blank", "unknown columns", "duplicate column", "unclosed quote", "field count", "stray quote", "latin-1"],
)
def test_malformed_file_names_file_and_line(write, content, line, says):
    """Each kind of broken CSV raises CsvFormatError naming the file and the line."""
    path = write(content)
    with pytest.raises(CsvFormatError) as caught:
        read_csv(path)
    message = str(caught.value)
    assert str(path) in message and f"line {line}" in message and says in message


def test_missing_file_is_a_format_error(tmp_path):
    """A path that does not exist is reported with the path, not a traceback."""
    with pytest.raises(CsvFormatError, match="nothere.csv"):
        read_csv(tmp_path / "nothere.csv")


def test_html_in_names_is_kept_as_text(write):
    """A name with HTML in it is data, not markup: kept verbatim, slugged safely."""
    [doc] = read_csv(write('name,text\n"<b>Eve</b>",I like <i>tea</i>\n'))
    assert doc.name == "<b>Eve</b>" and doc.person_id == "b-eve-b" and doc.text == "I like tea"
