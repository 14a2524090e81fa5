"""The zulip_bots handler, run as `zulip-run-bot` runs it (zulip_bots' ExternalBotHandler
around a real zulip.Client) against the test server, on a real stored map."""

from __future__ import annotations

import configparser

import pytest
import zulip
from zulip_bots.lib import ExternalBotHandler
from zulip_bots.test_lib import StubBotHandler

from bot import handler as handler_module
from bot.answers import md
from bot.commands import help_text
from bot.dispatch import NOT_ALLOWED, SENT_BY_DM
from bot.settings import database_path
from bot.settings_parse import SettingsError
from storage import Store


@pytest.fixture
def demo_map(demo_data_dir):
    with Store(database_path(demo_data_dir)) as store:
        return store.latest_snapshot("demo")


@pytest.fixture
def run_handler(realm, tmp_path):
    """`zulip-run-bot` with a [batchviz] config: returns ask(person, text, stream=None) →
    the bot's new messages [(kind, recipient ids or stream id, content)]."""

    def start(config: dict[str, str]):
        parser = configparser.ConfigParser()
        parser["batchviz"] = config
        client = zulip.Client(config_file=str(realm.server.zuliprc(tmp_path, realm.bot)))
        bot_handler = ExternalBotHandler(client, None, None, bot_config_parser=parser)
        handler = handler_module.handler_class()
        handler.initialize(bot_handler)

        def ask(person, text: str, stream: str | None = None) -> list[tuple]:
            before = len(realm.server.messages_sent_by(realm.bot))
            if stream:
                message_id = realm.server.send_stream_message(person, stream, "chat", text)
            else:
                message_id = realm.server.send_dm(person, realm.bot, text)
            [message] = client.get_messages({"anchor": message_id, "num_before": 0, "num_after": 0,
                                             "apply_markdown": False})["messages"]
            handler.handle_message({**message, "full_content": message["content"]}, bot_handler)
            return [(m.type, m.stream_id if m.type == "stream" else m.recipients, m.content)
                    for m in realm.server.messages_sent_by(realm.bot)[before:]]

        return ask

    return start


def test_usage_is_the_help():
    """usage() is the help generated from the command table."""
    assert handler_module.BatchvizHandler().usage() == help_text()


def test_conversation(realm, run_handler, demo_data_dir, demo_map):
    """A conversation reads like chat: help, near someone, a cluster, an unknown line."""
    ask = run_handler({"data_dir": str(demo_data_dir), "source": "demo", "stream": realm.welcome})
    person = demo_map.people[0]
    first_neighbour = demo_map.people[demo_map.neighbours[0][0].index].name
    replies = [ask(realm.alice, text)[0][2] for text in ("help", f"near {person.name}", "cluster #1", "sing a song")]
    assert replies[0] == help_text()
    assert f"1. **{md(first_neighbour)}**" in replies[1]
    assert replies[2].startswith("**Group 1**")
    assert "I didn't understand that" in replies[3]


def test_the_handler_refuses_people_who_cannot_read_the_source(realm, run_handler, demo_data_dir):
    """The runner's access check, through the runner's code: Bob does not read the
    private source and gets the refusal; Alice does and gets the answer (issue 9.6)."""
    realm.server.add_stream("private-welcome", invite_only=True, subscribers=[realm.bot, realm.alice])
    ask = run_handler({"data_dir": str(demo_data_dir), "source": "demo", "stream": "private-welcome"})
    [(_, to_bob, refusal)] = ask(realm.bob, "clusters")
    assert realm.bob.user_id in to_bob and refusal.startswith(NOT_ALLOWED.split("{")[0])
    [(_, _, answer)] = ask(realm.alice, "clusters")
    assert "groups (" in answer


def test_the_handler_routes_like_the_runner(realm, run_handler, demo_data_dir):
    """Asked in public #general about a private source, the answer goes by DM and the
    stream hears only that it did (issue 9.6, the rule of 9.1)."""
    realm.server.add_stream("private-welcome", invite_only=True, subscribers=[realm.bot, realm.alice])
    ask = run_handler({"data_dir": str(demo_data_dir), "source": "demo", "stream": "private-welcome"})
    sent = ask(realm.alice, "@**Map Bot** clusters", stream="general")
    assert [kind for kind, _, _ in sent] == ["private", "stream"]
    assert "groups (" in sent[0][2] and sent[1][2] == SENT_BY_DM


def test_opt_out_through_the_handler(realm, run_handler, demo_data_dir):
    """`opt out` via the handler records consent in the store."""
    ask = run_handler({"data_dir": str(demo_data_dir), "source": "demo", "stream": realm.welcome})
    [(_, _, reply)] = ask(realm.alice, "opt out")
    assert "next map won't include you" in reply
    with Store(database_path(demo_data_dir)) as store:
        assert store.opted_out(str(realm.alice.user_id))


def test_without_a_zulip_connection_the_handler_does_not_start():
    """zulip_bots' test stub has no connection to check access with: a clear refusal,
    not answers to anyone (issue 9.6)."""
    stub = StubBotHandler()
    with pytest.raises(SettingsError, match="who may read the source stream"):
        handler_module.handler_class().initialize(stub)


def test_the_handler_stops_quoting_someone_who_opted_out_elsewhere(realm, run_handler, quoting_db):
    """The handler holds the map in memory; the person opts out through the runner (its
    own store): the handler's next `show group` no longer quotes them (issue 21.2)."""
    from bot.answers import Answerer, Asker
    from bot.commands import parse

    ask = run_handler({"data_dir": str(quoting_db.path.parent), "source": "demo", "stream": realm.welcome})
    show = f"show group {quoting_db.group}"
    assert md(quoting_db.sentence) in ask(realm.alice, show)[0][2]
    with Store(quoting_db.path) as runner_store:
        Answerer(runner_store, "demo").answer(parse("opt out"), Asker(quoting_db.author, "Author"))
    assert md(quoting_db.sentence) not in ask(realm.alice, show)[0][2]
