"""The ``zulip_bots`` handler: answers commands in ``zulip-run-bot``.

It only reads the maps that ``batchviz run`` or ``batchviz demo`` stored; watching the
welcome stream, schedules and the map web server are the runner's. Who may ask and
where the answer goes are decided by the runner's own ``Dispatcher`` (one copy of the
rules), over the Zulip connection ``zulip-run-bot`` made, so the handler needs one: it
refuses to start without it (``zulip_bots.test_lib``'s stub has none). Configure it
with a ``[batchviz]`` section in the bot's config file (``data_dir``, ``source``, and the
source's ``stream`` and ``topic``)::

    zulip-run-bot bot/handler.py --config-file zuliprc --bot-config-file batchviz.conf
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.answers import Answerer
from bot.commands import help_text
from bot.directory import Directory
from bot.dispatch import Dispatcher
from bot.settings import MAIN_SOURCE, Source, database_path
from bot.settings_parse import SettingsError
from bot.zulip_io import ZulipIO
from storage import Store

DEFAULT_DATA_DIR = "batchviz-data"


class BatchvizHandler:
    """Answers `help`, `near me`, `show cluster N` … from the latest stored map."""

    def __init__(self) -> None:
        self.dispatcher: Dispatcher | None = None

    def usage(self) -> str:
        return help_text()

    def initialize(self, bot_handler: Any) -> None:
        config = bot_handler.get_config_info("batchviz", optional=True) or {}
        client = getattr(bot_handler, "_client", None)
        if client is None or not config.get("stream"):
            raise SettingsError("the batchviz handler checks who may read the source stream, so it needs "
                                "zulip-run-bot's Zulip connection and `stream` in its [batchviz] config")
        data_dir = Path(config.get("data_dir") or DEFAULT_DATA_DIR).expanduser()
        source = Source(config.get("source") or MAIN_SOURCE, config["stream"], config.get("topic", ""))
        answerer = Answerer(Store(database_path(data_dir)), source.name, links=None, join_where=source.describe())
        io = ZulipIO("", client=client)
        self.dispatcher = Dispatcher(io, Directory(io), int(bot_handler.user_id), bot_handler.full_name,
                                     [source], lambda _source: answerer, workers=1)

    def handle_message(self, message: dict[str, Any], bot_handler: Any) -> None:
        """The runner's path: is it a command, may the sender read the source, answer,
        and reply where everyone can read the source (else by DM)."""
        if self.dispatcher is None:
            self.initialize(bot_handler)
        message = {**message, "content": message.get("full_content", message.get("content", ""))}
        text = self.dispatcher.command_text(message)  # zulip_bots strips the mention: put it back
        if text is not None:
            self.dispatcher.respond(message, text)


handler_class = BatchvizHandler
