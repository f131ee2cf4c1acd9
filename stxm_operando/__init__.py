"""stxm-operando: instrument control and live analysis for operando STXM of battery particles."""

__version__ = "0.1.0"
