"""The HTTP decision service (FastAPI): `create_app`, the model holder, stream sessions.

Install with the ``serve`` extra; docs/deployment.md is the guide.
"""

from regime_trader.serve.app import create_app
from regime_trader.serve.model import ModelHolder
from regime_trader.serve.server import ServerThread
from regime_trader.serve.sessions import SessionManager

__all__ = ["ModelHolder", "ServerThread", "SessionManager", "create_app"]
