"""People who leave, on a real Zulip (issue 21.9): a deactivated person's data is gone
once the forget window has passed, and the log never held their words."""

from __future__ import annotations

from bot.departures import DEPARTED_KEY
from bot.settings import MAIN_SOURCE
from real_zulip.harness import TOPIC, patient, wait_for


def test_a_deactivated_person_is_forgotten_after_the_forget_window(world, bot_process):
    """forget_departed_days = 0: once Dee is deactivated (Zulip 11 sends `realm_user`
    `update` with `is_active: false`), her introduction, her place on the map and any
    pending forgetting are gone; the others stay."""
    people = [world.person(name) for name in ("Dee", "Eli", "Fay")]
    welcome = world.stream("welcome", people)
    for person in people:
        person.post(welcome, TOPIC, f"I am {person.full_name}; I restore harpsichords and bake rye.")
    bot = bot_process(welcome, "forget_departed_days = 0\n").start()
    wait_for(lambda: bot.snapshot_id(), "the first map")
    leaving, staying = str(people[0].user_id), {str(p.user_id) for p in people[1:]}
    patient(world.server.admin.call_endpoint, url=f"users/{leaving}", method="DELETE")
    wait_for(lambda: bot.read(lambda s: s.opted_out(leaving) and not s.states(DEPARTED_KEY)), "Dee forgotten")
    assert {d.person_id for d in bot.documents()} == staying

    def map_without_her() -> bool:
        latest = bot.read(lambda s: s.latest_snapshot(MAIN_SOURCE))
        return latest is not None and {p.person_id for p in latest.people} == staying

    wait_for(map_without_her, "a map without Dee")
    assert f"Forgot user {leaving}" in bot.current_log() and "harpsichord" not in bot.current_log()
