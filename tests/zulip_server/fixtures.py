"""Pytest fixtures: ``zulip_spec`` (parsed once per session) and ``zulip_server``.

Imported by ``tests/conftest.py``. A test fails at teardown when the server recorded
spec violations; a test that provokes one on purpose takes it with
``zulip_server.take_violations()``.
"""

from __future__ import annotations

import pytest

from .server import ZulipTestServer
from .spec import Spec, load_spec

TEST_POLL_TIMEOUT = 0.5  # seconds a GET /events waits before a heartbeat


@pytest.fixture(scope="session")
def zulip_spec() -> Spec:
    """The Zulip OpenAPI spec, parsed once."""
    return load_spec()


@pytest.fixture
def zulip_server(zulip_spec):
    """A fresh, empty, running test server; fails the test if the spec was broken."""
    server = ZulipTestServer(zulip_spec, poll_timeout=TEST_POLL_TIMEOUT).start()
    yield server
    server.stop()
    if server.spec_violations:
        pytest.fail("Zulip API spec violations:\n" + "\n".join(server.spec_violations), pytrace=False)
