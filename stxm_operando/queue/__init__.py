"""bluesky-queueserver integration: a startup module and the command that serves it."""

import socket

REDIS_TIMEOUT_S = 3.0
"""Longest wait for Redis to answer before the queue server is started, s."""


def check_redis(address: str) -> None:
    """Redis answers a PING at ``address`` (host:port); OSError naming it otherwise (the RE
    manager would print tracebacks and wait for ever)."""
    host, _, port = address.removeprefix("redis://").rpartition(":")
    try:
        with socket.create_connection((host or "localhost", int(port)), REDIS_TIMEOUT_S) as sock:
            sock.settimeout(REDIS_TIMEOUT_S)
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
    except (OSError, ValueError) as err:
        raise OSError(
            f"no Redis at {address} ({err}): start redis-server or give --redis"
        ) from None
    if not reply.startswith((b"+PONG", b"-NOAUTH")):
        raise OSError(f"{address} is not a Redis server (it answered {reply[:40]!r})")
