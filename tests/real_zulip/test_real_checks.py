"""`batchviz check` against the real server: the problems that are Zulip's, made to happen."""

from __future__ import annotations

import shutil

from bot import checks
from bot.checks import OK, PROBLEM
from real_zulip.harness import TOPIC, free_port, patient


def config(real_server, tmp_path, stream: str) -> str:
    """The kit bot's zuliprc with a [batchviz] section reading `stream`."""
    path = tmp_path / "zuliprc"
    shutil.copy(real_server.bot_rc, path)
    port = free_port()
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(f"\n[batchviz]\nsource_stream = {stream}\nsource_topic = {TOPIC}\n"
                     f"embedding_model = hashing\ndata_dir = {tmp_path / 'data'}\nweb_port = {port}\n"
                     f"public_url = http://127.0.0.1:{port}\n")
    return str(path)


def found(server, tmp_path, stream: str, level: str, area: str) -> list[str]:
    findings = checks.check_all(config(server, tmp_path, stream))[1]
    print(checks.report(findings))
    return [f.message for f in findings if f.level == level and f.area == area]


def test_a_good_source_passes(world, real_server, tmp_path):
    """A public stream the bot is in, with an introduction: all ok, and the real feature level."""
    ada = world.person("Ada")
    stream = world.stream("welcome", [ada])
    ada.post(stream, TOPIC, "I write compilers.")
    findings = checks.check_all(config(world.server, tmp_path, stream))[1]
    assert checks.exit_code(findings) == 0, checks.report(findings)
    assert any(f"feature level {real_server.feature_level}" in f.message for f in findings if f.level == OK)


def test_bot_not_subscribed(world, real_server, tmp_path):
    ada = world.person("Ada")
    stream = world.stream("welcome", [ada], with_bot=False)
    ada.post(stream, TOPIC, "I write compilers.")
    [message] = found(world.server, tmp_path, stream, PROBLEM, "source main")
    assert "not subscribed" in message


def test_hidden_history(world, real_server, tmp_path):
    """A private stream whose history is protected, the bot subscribed."""
    ada = world.person("Ada")
    stream = f"secret-{world.nonce}"
    patient(real_server.admin.add_subscriptions, [{"name": stream}], principals=[ada.user_id, world.server.bot_id],
            invite_only=True, history_public_to_subscribers=False)
    ada.post(stream, TOPIC, "I write compilers.")
    messages = found(world.server, tmp_path, stream, PROBLEM, "source main")
    assert any("hides its history" in m for m in messages), messages


def test_wrong_stream(world, real_server, tmp_path):
    stream = world.stream("welcome", [world.person("Ada")])
    [message] = found(world.server, tmp_path, stream[:-1], PROBLEM, "source main")
    assert "no stream" in message and f"did you mean #{stream}" in message


def test_run_refuses_to_start_on_a_problem(world, bot_process):
    """`batchviz run` makes the same checks at start: a source the bot is not subscribed to
    stops it with exit status 2 and the reason, before it registers any queue."""
    ada = world.person("Ada")
    stream = world.stream("welcome", [ada], with_bot=False)
    bot = bot_process(stream).start()
    assert bot.proc.wait(timeout=120) == 2, bot.current_log()
    log = bot.current_log()
    assert f"the bot is not subscribed to #{stream}" in log and "Registered event queue" not in log
