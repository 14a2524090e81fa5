"""Where the commands' catch-up starts on a new data folder (issue 21, item 6).

A first start answers the DMs and mentions sent within the last FIRST_START_HOURS, and
none before the bot's own latest message (whatever ran the bot then answered them). The
window is found by paging back from the newest command message until one older than the
window, however many came within it.
"""

from __future__ import annotations

import time

COMMAND_NARROWS = ([{"operator": "is", "operand": "dm"}], [{"operator": "is", "operand": "mentioned"}])
COMMAND_PAGE = 200
FIRST_START_HOURS = 24


def first_start_anchor(io, up_to: int, now: float | None = None) -> int:
    """The id after which a new data folder answers commands (at most ``up_to``)."""
    latest = io.call("get_messages", {
        "anchor": "newest", "num_before": 1, "num_after": 0, "apply_markdown": False,
        "narrow": [{"operator": "sender", "operand": io.email}]})["messages"]
    after = int(latest[-1]["id"]) if latest else 0
    since = (time.time() if now is None else now) - FIRST_START_HOURS * 3600
    for narrow in COMMAND_NARROWS:
        after = max(after, newest_before(io, narrow, since))
    return min(after, up_to)


def newest_before(io, narrow: list[dict], since: float) -> int:
    """The id of the newest message in the narrow sent before ``since``, or 0."""
    anchor, include = "newest", True
    while True:
        answer = io.call("get_messages", {"anchor": anchor, "include_anchor": include,
                                          "num_before": COMMAND_PAGE, "num_after": 0,
                                          "narrow": narrow, "apply_markdown": False})
        messages = answer["messages"]
        old = [int(m["id"]) for m in messages if m["timestamp"] < since]
        if old:
            return max(old)
        if answer.get("found_oldest") or not messages:
            return 0
        anchor, include = int(messages[0]["id"]), False
