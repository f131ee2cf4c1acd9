"""The qtpy + pyqtgraph monitor, fed live over 0MQ or from the catalog."""
