"""The embedded local computer: a real HTTP server speaking the Miosa exec API on loopback."""

from ._app import create_app
from ._computer import LocalSettings
from ._server import LocalServer, local_server

__all__ = ["LocalServer", "LocalSettings", "create_app", "local_server"]
