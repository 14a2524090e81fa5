"""A Zulip-compatible test server (see server.py); import as ``zulip_server``."""

from .realm import ApiError, Message, Stream, Upload, User
from .server import FEATURE_LEVEL, ZULIP_VERSION, LoggedRequest, ZulipTestServer
from .spec import Spec, load_spec
from .waiting import wait_until

__all__ = ["ApiError", "FEATURE_LEVEL", "LoggedRequest", "Message", "Spec", "Stream", "Upload", "User",
           "ZULIP_VERSION", "ZulipTestServer", "load_spec", "wait_until"]
