"""A real uvicorn server on a free loopback port, in a thread, for the tests that need one (SSE clients,
`technic watch`, the browser)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(app, timeout: float = 20.0):
    """Serve `app` on 127.0.0.1 until the block ends (its open streams ended, as `technic serve` ends
    them); yields its base URL."""
    from technic_assets.live.serving import server as live_server

    port = free_port()
    server = live_server(app, host="127.0.0.1", port=port, lifespan="on")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
