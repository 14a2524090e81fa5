"""Fixtures of the real-Zulip tier (see harness.py); every test here is marked `real_zulip`."""

import pytest

from real_zulip.harness import bot_process, real_server, world  # noqa: F401


def pytest_collection_modifyitems(items):
    for item in items:
        if "real_zulip" in item.nodeid.split("::")[0]:
            item.add_marker(pytest.mark.real_zulip)
