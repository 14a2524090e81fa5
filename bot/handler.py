"""The ``zulip_bots`` handler: answers commands in ``zulip-run-bot``, ``zulip-bot-shell``
and ``zulip_bots.test_lib``.

It only reads the maps that ``batchviz run`` or ``batchviz demo`` stored; watching the
welcome stream, schedules and the map web server are the runner's. Configure it with a
``[batchviz]`` section in the bot's config file (``data_dir``, ``source``)::

    zulip-run-bot bot/handler.py --config-file zuliprc --bot-config-file batchviz.conf
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.answers import Answerer, Asker
from bot.commands import help_text, parse
from bot.settings import MAIN_SOURCE, database_path
from storage import Store

DEFAULT_DATA_DIR = "batchviz-data"


class BatchvizHandler:
    """Answers `help`, `near me`, `show cluster N` … from the latest stored map."""

    def __init__(self) -> None:
        self.answerer: Answerer | None = None

    def usage(self) -> str:
        return help_text()

    def initialize(self, bot_handler: Any) -> None:
        config = bot_handler.get_config_info("batchviz", optional=True) or {}
        data_dir = Path(config.get("data_dir") or DEFAULT_DATA_DIR).expanduser()
        data_dir.mkdir(parents=True, exist_ok=True)
        store = Store(database_path(data_dir))
        self.answerer = Answerer(store, config.get("source") or MAIN_SOURCE, links=None)

    def handle_message(self, message: dict[str, Any], bot_handler: Any) -> None:
        if self.answerer is None:
            self.initialize(bot_handler)
        asker = Asker(str(message.get("sender_id", "")), message.get("sender_full_name", ""),
                      message.get("sender_email", ""))
        names = (getattr(bot_handler, "full_name", ""), "batchviz")
        reply = self.answerer.answer(parse(message.get("content", ""), names), asker)
        bot_handler.send_reply(message, reply)


handler_class = BatchvizHandler
