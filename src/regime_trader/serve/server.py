"""Run the service: in the foreground (`serve`), or in a thread on a free loopback port
(tests, `paper`, the load test)."""

from __future__ import annotations

import gc
import sys
import threading
import time
from typing import Any

import uvicorn


class ServerThread:
    """uvicorn in a daemon thread; ``url`` once started. Use as a context manager."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, **kwargs: Any) -> None:
        cfg = uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False, **kwargs
        )
        self.server = uvicorn.Server(cfg)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)
        self.host = host
        self.port = port

    def start(self, timeout: float = 20.0) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the decision service did not start")
            time.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


GRACEFUL_SECONDS = 10  # SIGTERM: requests in flight get this long, then the log is closed
SWITCH_INTERVAL = 0.0005  # s: how long a thread holds the GIL while another waits for it


def serve_forever(app: Any, host: str, port: int) -> None:
    """Serve in the foreground until interrupted (Ctrl-C / SIGTERM): requests in flight get
    ``GRACEFUL_SECONDS``, then the app's shutdown checkpoints and closes the bar log.

    The process is the service: what it holds at start (torch, pandas, the model, some
    250,000 objects) is moved out of the garbage collector's reach first (`gc.freeze`), so a
    full collection, which otherwise scanned all of it holding the GIL (about 150 ms measured,
    every few hundred requests), only scans what was made since. The interpreter's thread
    switch interval goes down to ``SWITCH_INTERVAL`` (Python's default is 5 ms): a stream
    bar waiting for the GIL behind a window request's pure-Python work waits at most that
    long each time it needs it back (after each SQLite call, each hop to the event loop)."""
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(SWITCH_INTERVAL)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="info",
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
    )
