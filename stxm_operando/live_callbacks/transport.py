"""Getting documents to callbacks: a worker thread, and 0MQ with JSON (never pickle)."""

import json
from collections.abc import Callable

from bluesky.callbacks.zmq import Proxy, Publisher

from ..storage.journal import to_json
from ..worker import Worker

DEFAULT_PROXY_HOST = "127.0.0.1"


def serialize(doc: dict) -> bytes:
    """A document as JSON bytes (arrays as nested lists)."""
    return json.dumps(doc, default=to_json).encode()


def parse_message(message: bytes) -> tuple[bytes, str, dict]:
    """Split a bluesky Publisher message into (prefix, name, document); ValueError if it is
    not one (no three parts, not JSON, JSON nested too deep to read, or not a JSON object).

    >>> parse_message(b'p start {"uid": "a"}')
    (b'p', 'start', {'uid': 'a'})
    >>> parse_message(b"p event 42")
    Traceback (most recent call last):
    ...
    ValueError: the event message is not a document (a JSON int)
    """
    parts = message.split(b" ", 2)
    if len(parts) != 3:
        raise ValueError("not a (prefix, name, document) message")
    prefix, name, payload = parts
    try:
        doc = json.loads(payload)
    except RecursionError:
        raise ValueError("the document is nested too deep to read") from None
    name = name.decode()
    if not isinstance(doc, dict):
        raise ValueError(f"the {name} message is not a document (a JSON {type(doc).__name__})")
    return prefix, name, doc


def check_address(address: str) -> str:
    """A 0MQ proxy's ``host:port`` as given; ValueError naming it if it is not one.

    >>> check_address("127.0.0.1:5577")
    '127.0.0.1:5577'
    >>> check_address("notaport")
    Traceback (most recent call last):
    ...
    ValueError: a 0MQ address is host:port (port 1-65535), got 'notaport'
    """
    host, _, port = str(address).rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"a 0MQ address is host:port (port 1-65535), got {address!r}")
    return address


def json_publisher(address: str, prefix: bytes = b"") -> Publisher:
    """A bluesky Publisher to the 0MQ proxy at ``address`` (host:port) that sends JSON
    instead of pickle."""
    return Publisher(check_address(address), prefix=prefix, serializer=serialize)


def run_proxy(in_port: int, out_port: int, host: str = DEFAULT_PROXY_HOST) -> None:
    """Run bluesky's 0MQ forwarding proxy (blocks). Binds ``host`` only."""
    Proxy(f"{host}:{in_port}", f"{host}:{out_port}").start()


class ThreadedCallback(Worker):
    """Run a callback on its own thread so the caller (the RunEngine) never waits for it
    and never sees it fail.

    Documents queue without limit, so a slow consumer never loses any; ``join()`` waits
    for the backlog. A document the callback fails on is logged and counted
    (``failures``, ``last_failure``) and the callback goes on with the next one: a failure
    in analysis never stops an acquisition.
    """

    def __init__(self, callback: Callable[[str, dict], None], name: str = "callback") -> None:
        super().__init__(lambda document: callback(*document), name)
        self.callback = callback

    def __call__(self, name: str, doc: dict) -> None:
        self.put((name, doc))
