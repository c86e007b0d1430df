"""The embedded local computer: a real HTTP server speaking the Miosa exec API on loopback."""

from ._app import create_app
from ._computer import LocalSettings
from ._process import LocalProcess
from ._server import LocalServer, local_server

__all__ = ["LocalProcess", "LocalServer", "LocalSettings", "create_app", "local_server"]
