"""Start the monitor application (live from a 0MQ proxy and/or a catalog run)."""

import pyqtgraph as pg

from .monitor import MonitorWindow
from .sources import ZmqDocumentSource
from .theme import prepare_qt


def run_monitor(address: str | None = None, catalog=None, uid: str | None = None) -> int:
    """Open the monitor: subscribe to ``address`` (host:port), and/or replay ``uid``."""
    prepare_qt()
    app = pg.mkQApp("stxm-operando monitor")
    window = MonitorWindow(catalog=catalog)
    if address:
        window.attach(ZmqDocumentSource(address, [window.document]))
    if uid:
        window.open_stored_run(uid)
    window.show()
    return app.exec_()
