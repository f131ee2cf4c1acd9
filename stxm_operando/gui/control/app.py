"""Start the control window on an RE manager."""

import pyqtgraph as pg

from ...config import BeamlineConfig
from ..theme import prepare_qt
from .queue_link import QueueLink
from .window import ControlWindow


def run_control(
    control_address: str, info_address: str, config: BeamlineConfig, catalog=None
) -> int:
    """Open the control window on the RE manager at ``control_address`` (0MQ)."""
    prepare_qt()
    app = pg.mkQApp("stxm-operando control")
    window = ControlWindow(QueueLink(control_address, info_address), config, catalog)
    window.resize(1280, 760)
    window.show()
    return app.exec_()
