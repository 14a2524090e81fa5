"""The zulip_bots handler, driven by zulip_bots.test_lib's StubBotHandler on a real map."""

from __future__ import annotations

import pytest
from zulip_bots.test_lib import StubBotHandler

from bot import handler as handler_module
from bot.answers import md
from bot.commands import help_text
from bot.settings import database_path
from storage import Store


class ConfiguredBotHandler(StubBotHandler):
    """The test library's stub, with a [batchviz] config section."""

    def __init__(self, config: dict[str, str]):
        super().__init__()
        self.config = config

    def get_config_info(self, bot_name: str, optional: bool = False) -> dict[str, str]:
        assert bot_name == "batchviz"
        return self.config


@pytest.fixture
def demo_map(demo_data_dir):
    with Store(database_path(demo_data_dir)) as store:
        return store.latest_snapshot("demo")


@pytest.fixture
def talk(demo_data_dir, demo_map):
    """A conversation with the handler as the first demo person: [(request, reply)] → replies."""
    stub = ConfiguredBotHandler({"data_dir": str(demo_data_dir), "source": "demo"})
    bot = handler_module.handler_class()
    bot.initialize(stub)
    me = demo_map.people[0]

    def converse(requests: list[str]) -> list[str]:
        replies = []
        for request in requests:
            stub.reset_transcript()
            message = {"content": request, "sender_id": me.person_id, "sender_full_name": me.name,
                       "sender_email": "me@example.com", "type": "private"}
            bot.handle_message(message, stub)
            replies.append(stub.unique_reply()["content"])
        return replies

    return converse


def test_usage_is_the_help():
    """usage() is the help generated from the command table."""
    assert handler_module.BatchvizHandler().usage() == help_text()


def test_conversation(talk, demo_map):
    """A conversation reads like chat: help, near me, a cluster, an unknown line."""
    first_neighbour = demo_map.people[demo_map.neighbours[0][0].index].name
    help_reply, near, cluster, unknown, empty = talk(
        ["@**test-bot** help", "who's near me?", "cluster #1", "sing a song", ""])
    assert help_reply == help_text()
    assert f"1. **{md(first_neighbour)}**" in near
    assert cluster.startswith("**Group 1**")
    assert "I didn't understand that" in unknown
    assert empty == help_text()


def test_opt_out_through_the_handler(talk, demo_map, demo_data_dir):
    """`opt out` via the handler records consent in the store."""
    reply, near = talk(["opt out", "near me"])
    assert "next map won't include you" in reply and "opted out" in near
    with Store(database_path(demo_data_dir)) as store:
        assert store.opted_out(demo_map.people[0].person_id)


def test_without_config_uses_defaults(tmp_path, monkeypatch):
    """With no config section, the handler uses ./batchviz-data and says there is no map yet."""
    monkeypatch.chdir(tmp_path)
    stub = StubBotHandler()
    bot = handler_module.handler_class()
    bot.initialize(stub)
    bot.handle_message({"content": "map", "sender_id": 5, "sender_full_name": "Ada",
                        "sender_email": "ada@example.com"}, stub)
    assert "There is no map yet" in stub.unique_reply()["content"]
    assert database_path(tmp_path / "batchviz-data").exists()
