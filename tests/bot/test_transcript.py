"""docs/transcript.py: the scripted conversation with the real bot runs and every command is answered."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "transcript.py"
EXPECTED = {  # what each command's reply must contain
    "help": "near me",
    "who's near me?": "Closest to @_**",
    "groups": "groups (",
    "show group 2": "**Group 2**",
    "who's into machine-checked mathematics?": "machine-checked mathematics”",
    "map": "/map/main/",
    "status": "Introductions stored: 81",
    "opt out": "won't name you",
    "opt in": "Welcome back",
    "hey @**batchviz** refresh please": "Refreshed: 80 people",
}
ERRORS = ("(no reply)", "Sorry", "I didn't understand")


def load_script():
    spec = importlib.util.spec_from_file_location("transcript", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def exchanges(output: str) -> dict[str, str]:
    """{asked text: first line of the reply} from the printed transcript."""
    lines = output.splitlines()
    found = {}
    for i, line in enumerate(lines):
        if line.startswith("> "):
            asked = line.split(": ", 1)[1]
            reply = "\n".join(lines[i + 1:lines.index("", i + 1)])
            assert reply.startswith("batchviz: "), f"no reply line after {line!r}"
            found[asked] = reply.removeprefix("batchviz: ")
    return found


def test_transcript_every_command_gets_a_real_answer(capsys):
    """With the hashing model, each scripted message gets a reply that is no error."""
    assert load_script().main(["--model", "hashing"]) == 0
    output = capsys.readouterr().out
    replies = exchanges(output)
    near = [asked for asked in replies if asked.startswith("near @**")]
    assert len(replies) == 11 and len(near) == 1
    assert replies[near[0]].startswith("Closest to @_**")
    for asked, fragment in EXPECTED.items():
        assert not replies[asked].startswith(ERRORS), (asked, replies[asked])
        assert fragment in replies[asked], (asked, replies[asked])
    assert "Total wall time:" in output
