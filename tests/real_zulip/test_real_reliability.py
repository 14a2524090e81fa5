"""Restarts, SIGKILLs, a deleted event queue, rate limits and SIGTERM, on a real Zulip."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from real_zulip.harness import TOPIC, WAIT, limit_requests, patient, wait_for


def _people(world, n: int, welcome_name: str = "welcome"):
    people = [world.person(f"P{i:02d}") for i in range(n)]
    return people, world.stream(welcome_name, people)


def _answered_once(people_commands) -> bool:
    """Each person got exactly as many replies as they sent commands (the bot answers one
    person's commands in order, one reply each)."""
    return all(len(person.dm_replies(after=min(asked) - 1)) == len(asked) for person, asked in people_commands)


@pytest.mark.parametrize("moment", ["mid-backfill", "right after a command", "mid-build"])
def test_sigkill_then_restart_answers_everything_exactly_once(world, bot_process, moment):
    """Killed at one moment, then down while people write: after the restart every DM
    sent meanwhile is answered exactly once, and no intro is lost or stored twice."""
    people, welcome = _people(world, 8)
    sent = [person.post(welcome, TOPIC, f"I am {person.full_name} and I like topic {i % 3}.")
            for i, person in enumerate(people)]
    bot = bot_process(welcome)
    commands = []
    if moment == "mid-backfill":
        for i in range(60):  # enough history that the first read takes a while
            people[i % 8].post(welcome, TOPIC, f"More about me, part {i}: I like topic {i % 3}.")
        bot.start()
        bot.wait_log(r"Connected to")
    elif moment == "right after a command":
        bot.start()
        bot.wait_log(r"Registered event queue")
        commands.append((people[0], [people[0].dm_bot("status")]))
        bot.wait_log(r"Command \w+ from user")
    else:
        bot.start()
        bot.wait_log(r"Registered event queue")
        wait_for(lambda: bot.read(lambda s: s.get_state("building.main")), "a build to be running")
    bot.kill()
    while_down = [(person, [person.dm_bot("status"), person.dm_bot("map")]) for person in people[1:4]]
    mention = world.stream("chat", people)
    asked_in_stream = people[4].post(mention, "q", f"@**{world.server.bot_name}** clusters")
    bot.start()
    everyone = commands + while_down
    wait_for(lambda: _answered_once(everyone), "every command answered")
    topic = [{"operator": "stream", "operand": mention}, {"operator": "topic", "operand": "q"}]
    wait_for(lambda: people[4].bot_replies(topic, after=asked_in_stream), "the mention answered")
    bot.wait_log(r"Registered event queue")
    wait_for(lambda: len(bot.documents()) == 8, "every intro stored")
    stored = [i for d in bot.documents() for i in d.extra["message_ids"]]
    assert len(stored) == len(set(stored)) and set(sent) <= set(stored)
    assert _answered_once(everyone)  # still once, after everything settled
    assert len(people[4].bot_replies(topic, after=asked_in_stream)) == 1


def test_a_deleted_event_queue_during_a_burst_loses_nothing(world, bot_process):
    """The server drops the bot's queue (DELETE /events) in the middle of a burst of intros:
    the bot registers again, reads the gap, and stores every intro once."""
    people, welcome = _people(world, 5)
    bot = bot_process(welcome, "debounce_minutes = 60\n").start()
    bot.wait_log(r"Registered event queue")
    sent: list[int] = []

    def burst(start: int, count: int) -> None:
        for i in range(start, start + count):
            sent.append(people[i % 5].post(welcome, TOPIC, f"Burst intro {i} from {people[i % 5].full_name}"))

    burst(0, 20)
    with ThreadPoolExecutor(1) as writer:
        writing = writer.submit(burst, 20, 40)
        patient(world.server.bot.deregister, bot.queue_id())
        wait_for(writing.done, "the burst's other 40 intros to be sent", timeout=2 * WAIT)
        writing.result()  # a send that failed fails the test here, with its own message
    bot.wait_log(r"expired; registering again")
    wait_for(lambda: sorted(i for d in bot.documents() for i in d.extra["message_ids"]) == sorted(sent),
             "every burst message stored exactly once")


@pytest.fixture
def rate_limited_bot(world):
    """This test's bot limited to 20 requests per 10 s (Zulip's own per-user limit)."""
    limit_requests(world.server.bot_id, "10:20")


def test_rate_limits_are_honoured_and_nothing_is_lost(world, bot_process, rate_limited_bot):
    """With a tight rate limit, the bot waits out every 429 and still stores every intro
    and answers every command."""
    people, welcome = _people(world, 6)
    sent = [p.post(welcome, TOPIC, f"I am {p.full_name}; I like chess and go.") for p in people]
    bot = bot_process(welcome).start()
    bot.wait_log(r"Registered event queue")
    asked = [(p, [p.dm_bot("status"), p.dm_bot("map"), p.dm_bot("help")]) for p in people]
    # 18 replies and the bot's reads at 20 requests per 10 s, with its 429s waited out: 2 WAITs
    wait_for(lambda: _answered_once(asked), "every command answered", timeout=2 * WAIT)
    stored = sorted(i for d in bot.documents() for i in d.extra["message_ids"])
    assert stored == sorted(sent)
    assert "rate limited" in bot.current_log()


def test_no_data_for_people_who_cannot_read_the_source(world, bot_process):
    """A member outside a private welcome stream, and a guest outside a public one, get a
    refusal with no names or keywords in it."""
    insiders = [world.person(n) for n in ("Ina", "Ivo", "Ike")]
    outsider, guest = world.person("Out"), world.person("Gia")
    world.make_guest(guest)
    private = world.stream("secret", insiders, private=True)
    for person in insiders:
        person.post(private, TOPIC, f"I am {person.full_name}, a secret sourdough baker.")
    bot = bot_process(private).start()
    wait_for(lambda: bot.snapshot_id(), "the first map")
    asked = {who: who.dm_bot(f"near @**{insiders[1].full_name}**") for who in (outsider, guest, insiders[0])}
    replies = {who: wait_for(lambda who=who: who.dm_replies(after=asked[who]), f"a reply to {who.full_name}")
               for who in asked}
    assert f"@_**|{insiders[2].user_id}**" in replies[insiders[0]][0]["content"]  # an insider is answered
    for who in (outsider, guest):
        [reply] = replies[who]
        assert "only answer people who can read" in reply["content"]
        assert "sourdough" not in reply["content"] and insiders[2].full_name not in reply["content"]
        assert f"|{insiders[2].user_id}**" not in reply["content"]


def test_a_guest_gets_nothing_from_a_public_source(world, bot_process):
    """A guest can read only the streams they are subscribed to: not a public welcome
    stream they are not in."""
    people, welcome = _people(world, 3)
    for person in people:
        person.post(welcome, TOPIC, f"I am {person.full_name}, I fly kites.")
    guest = world.person("Gil")
    world.make_guest(guest)
    bot = bot_process(welcome).start()
    wait_for(lambda: bot.snapshot_id(), "the first map")
    asked = guest.dm_bot(f"near @**{people[0].full_name}**")
    [reply] = wait_for(lambda: guest.dm_replies(after=asked), "the reply to the guest")
    assert "only answer people who can read" in reply["content"]
    assert "kites" not in reply["content"] and people[1].full_name not in reply["content"]


def test_sigterm_stops_in_order_with_exit_code_0(world, bot_process):
    """SIGTERM: the scheduler, event loop, commands, map server and database stop in order,
    and the process exits with 0."""
    _, welcome = _people(world, 2)
    bot = bot_process(welcome).start()
    bot.wait_log(r"Registered event queue")
    assert bot.stop(timeout=30) == 0
    log = bot.current_log()
    order = [log.index(f"Stopping: {part}") for part in ("scheduler", "event loop", "commands", "database")]
    assert order == sorted(order) and "Stopped" in log
