"""What a command imports: ``--help``, ``settings`` and the chat path stay light.

Each case runs in a fresh interpreter (this test session has long imported everything)
and prints which of the heavy libraries ended up in ``sys.modules``.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# the embedding model, the layout and clustering libraries, and what they pull in
HEAVY = ("torch", "sentence_transformers", "transformers", "umap", "hdbscan", "numba",
         "pynndescent", "sklearn", "scipy", "plotly", "matplotlib", "pandas")

REPORT = f"""
import json, sys
print(json.dumps(sorted(name for name in {HEAVY!r} if name in sys.modules)))
"""

CLI = """
import sys
from bot.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
"""


def heavy_after(code: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", code + REPORT], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("argv", [["--help"], ["settings"], ["settings", "--example"], ["map", "--help"]])
def test_cli_without_work_imports_nothing_heavy(argv):
    assert heavy_after(CLI.format(argv=argv)) == []


def test_the_chat_path_imports_nothing_heavy():
    """Answering from a stored map: commands, answers, the store, the service module."""
    assert heavy_after("import bot.answers, bot.chat, bot.commands, bot.service, storage") == []


@pytest.mark.slow
def test_a_map_without_a_preview_imports_no_matplotlib(tmp_path):
    """`batchviz map` without --png never draws a preview, so it never imports matplotlib."""
    argv = ["map", "--csv", str(ROOT / "pipeline" / "demo_data" / "introductions.csv"), "--model", "hashing",
            "-o", str(tmp_path / "map.html")]
    code = CLI.format(argv=argv) + "\nimport json\nprint(json.dumps('matplotlib' in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "map.html").exists() and json.loads(done.stdout.strip().splitlines()[-1]) is False
