"""Settings: one table validates the [batchviz] section and generates zuliprc.example."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.cli import main
from bot.settings import (
    SETTINGS, Settings, SettingsError, Source, default_settings, load_settings, render_example,
)
from pipeline.params import PipelineParams

REPO = Path(__file__).resolve().parents[2]
API = "[api]\nemail = bot@example.com\nkey = s3cr3t-KEY-value\nsite = https://chat.example.com\n"
BAD_VALUES = {
    "source_topic_pattern": "intro(", "post_cron": "0 99 * * *", "refresh_cron": "every day",
    "timezone": "Mars/Olympus", "debounce_minutes": "soon", "refresh_cooldown_minutes": "-1",
    "web_mode": "cloud", "web_port": "70000", "public_url": "ftp://x", "link_ttl_hours": "0",
    "pseudonymize": "maybe", "components": "4", "neighbours_k": "50", "keywords": "lda",
    "min_cluster_size": "1", "random_state": "seed", "log_level": "loud", "embedding_max_tokens": "8",
}


def write(tmp_path: Path, body: str, api: str = API) -> Path:
    path = tmp_path / "zuliprc"
    path.write_text(api + "\n[batchviz]\nsource_stream = welcome\n" + body, encoding="utf-8")
    return path


def test_example_file_matches_the_table():
    """zuliprc.example is exactly what the table generates (regenerate with `batchviz settings --example`)."""
    assert (REPO / "zuliprc.example").read_text(encoding="utf-8") == render_example()


def test_example_documents_every_setting_and_loads(tmp_path):
    """Every key appears in the example with its help, and the example itself is valid."""
    example = render_example()
    for setting in SETTINGS:
        assert f"{setting.name} =" in example and setting.help in example
    path = tmp_path / "zuliprc"
    path.write_text(example, encoding="utf-8")
    assert load_settings(path).source_stream == "welcome"


def test_table_and_dataclass_agree():
    """Every setting is a typed field of Settings, and every table default parses."""
    names = {f.name for f in dataclasses.fields(Settings)}
    assert {s.name for s in SETTINGS} <= names
    for setting in SETTINGS:
        setting.parse(setting.default)


def test_settings_cli_prints_the_example(capsys):
    """`batchviz settings --example` prints the generated example."""
    assert main(["settings", "--example"]) == 0
    assert capsys.readouterr().out == render_example()


def test_defaults_and_derived_values(tmp_path):
    """Unset keys take the table's defaults; folders are relative to the zuliprc."""
    settings = load_settings(write(tmp_path, ""))
    assert settings.post_stream == "welcome" and settings.post_topic == "batchviz map"
    assert settings.data_dir == tmp_path / "batchviz-data"
    assert settings.map_dir == tmp_path / "batchviz-data" / "site"
    assert settings.public_url == "" and settings.web_port == 8765  # unset stays unset
    assert settings.min_cluster_size is None and settings.pseudonymize is False
    assert settings.database.parent == settings.data_dir


def test_web_port_zero_is_any_free_port(tmp_path):
    """web_port = 0 (an ephemeral port, for tests) is accepted; a set public_url is kept."""
    settings = load_settings(write(tmp_path, "web_port = 0\npublic_url = https://maps.example.org/\n"))
    assert settings.web_port == 0 and settings.public_url == "https://maps.example.org"


def test_typed_values(tmp_path):
    """Values are parsed to their types and feed the pipeline parameters."""
    body = ("components = 3\nkeywords = MMR\nmin_cluster_size = 4\nneighbours_k = 7\n"
            "pseudonymize = yes\nkeep_names = Ada Lovelace, Alan Turing\n")
    settings = load_settings(write(tmp_path, body))
    assert settings.keep_names == ("Ada Lovelace", "Alan Turing") and settings.pseudonymize is True
    assert settings.pipeline_params() == PipelineParams(components=3, keywords="mmr", min_cluster_size=4,
                                                        neighbours_k=7, random_state=42)


@pytest.mark.parametrize("key, value", sorted(BAD_VALUES.items()))
def test_bad_value_names_file_key_and_value(tmp_path, key, value):
    """A bad value stops loading with a message naming the file, the key and the value."""
    path = write(tmp_path, f"{key} = {value}\n")
    with pytest.raises(SettingsError) as error:
        load_settings(path)
    message = str(error.value)
    assert str(path) in message and key in message and repr(value) in message


def test_unknown_key_suggests_the_close_one(tmp_path):
    """A misspelt key is refused with a did-you-mean."""
    with pytest.raises(SettingsError, match="unknown key 'debounce_minute'.*did you mean 'debounce_minutes'"):
        load_settings(write(tmp_path, "debounce_minute = 3\n"))


def test_repr_hides_the_api_key(tmp_path):
    """The API key never shows in repr or str of the settings."""
    settings = load_settings(write(tmp_path, ""))
    assert settings.api_key == "s3cr3t-KEY-value"
    assert "s3cr3t" not in repr(settings) and "s3cr3t" not in str(settings)


def test_extra_sources_and_matching(tmp_path):
    """[batchviz:source NAME] sections add sources; topics match case-insensitively."""
    body = ("source_topic = Introductions\n\n[batchviz:source alumni]\nstream = alumni\n"
            "topic_pattern = ^intro\n")
    settings = load_settings(write(tmp_path, body))
    first, alumni = settings.sources
    assert first == Source("main", "welcome", "Introductions", "")
    assert first.matches("Welcome", "introductions") and not first.matches("welcome", "lunch")
    assert alumni.matches("alumni", "Intros 2024") and not alumni.matches("alumni", "my intro")
    assert settings.source("alumni") is alumni


@pytest.mark.parametrize("body, fragment", [
    ("source_topic = a\nsource_topic_pattern = b\n", "not both"),
    ("[batchviz:source alumni]\ntopic = x\n", "stream is required"),
    ("[batchviz:source alumni]\nstream = a\nchannel = b\n", "unknown key 'channel'"),
    ("[batchviz:source main]\nstream = other\n", "more than one source named 'main'"),
    ("[batchviz:source ../etc]\nstream = other\n", "letters, digits"),
])
def test_bad_sources(tmp_path, body, fragment):
    """Contradictory, incomplete or duplicate sources are refused, naming the section."""
    with pytest.raises(SettingsError, match=fragment):
        load_settings(write(tmp_path, body))


def test_run_needs_credentials_and_stream(tmp_path):
    """check_runnable names the missing [api] keys and a missing source_stream."""
    settings = load_settings(write(tmp_path, "", api="[api]\nemail = bot@example.com\n"))
    with pytest.raises(SettingsError, match=r"\[api\] needs key, site"):
        settings.check_runnable()
    with pytest.raises(SettingsError, match="source_stream is required"):
        default_settings(tmp_path).check_runnable()


@pytest.mark.parametrize("content", ["[batchviz\nx", "\xff\xfe garbage", ""])
def test_unreadable_files(tmp_path, content):
    """A broken or missing file is a SettingsError naming it, not a configparser trace."""
    path = tmp_path / "zuliprc"
    path.write_bytes(content.encode("latin-1"))
    if not content:
        path = tmp_path / "missing"
    with pytest.raises(SettingsError, match=str(path)):
        load_settings(path)


@pytest.mark.parametrize("overrides, warned", [
    ({}, True), ({"web_host": "localhost"}, True), ({"web_host": "::1"}, True),
    ({"public_url": "https://maps.example.org"}, False), ({"web_host": "0.0.0.0"}, False),
    ({"web_mode": "dir"}, False),
])
def test_link_warning_when_maps_open_on_this_machine_only(tmp_path, overrides, warned):
    """Served on loopback with no public_url, map links work only on the bot's machine: say so."""
    warning = default_settings(tmp_path, **overrides).link_warning()
    assert (warning is not None) == warned
    assert not warned or "public_url is unset" in warning


def test_intro_reaction_defaults_to_wave_and_can_be_off(tmp_path):
    """The reaction to new introductions is a setting; empty turns it off."""
    assert default_settings(tmp_path).intro_reaction == "wave"
    rc = tmp_path / "zuliprc"
    rc.write_text("[batchviz]\nintro_reaction =\n", encoding="utf-8")
    assert load_settings(rc).intro_reaction == ""


def test_every_bad_setting_is_reported_at_once(tmp_path):
    """One load names every bad value, unknown key and bad source of the file together,
    so a person fixes their zuliprc in one go rather than one error per restart."""
    body = ("debounce_minutes = soon\nweb_mode = cloud\ndebounce_minute = 3\n\n"
            "[batchviz:source alumni]\ntopic = x\nchannel = b\n")
    with pytest.raises(SettingsError) as error:
        load_settings(write(tmp_path, body))
    message = str(error.value)
    for fragment in ("debounce_minutes = 'soon'", "web_mode = 'cloud'", "unknown key 'debounce_minute'",
                     "unknown key 'channel'", "[batchviz:source alumni] stream is required"):
        assert fragment in message
    assert message.startswith("5 problems in the settings:")


def test_run_reports_missing_credentials_and_stream_together(tmp_path):
    """check_runnable names a missing source_stream and the missing [api] keys at once."""
    path = tmp_path / "zuliprc"
    path.write_text("[api]\nemail = bot@example.com\n", encoding="utf-8")
    with pytest.raises(SettingsError) as error:
        load_settings(path).check_runnable()
    assert "source_stream is required" in str(error.value) and "[api] needs key, site" in str(error.value)
