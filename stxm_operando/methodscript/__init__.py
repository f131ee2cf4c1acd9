"""PalmSens MethodSCRIPT: the wire format (``codec``), the script a protocol step becomes
(``scripts``) and a host's connection to an instrument (``client``). The instrument simulator
is ``stxm_operando.sim.methodscript``, served by ``stxm-operando potentiostat-sim``."""
