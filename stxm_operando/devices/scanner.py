"""The zone-plate scanner: sample stages, zone plate and OSA, and energy with focus coupling.

``scanner.set(energy_eV)`` moves the monochromator and the zone plate (f = D dr E / hc) together
and returns one status that finishes only when both have arrived. Scan the scanner itself, not
only ``scanner.energy``, so the zone-plate Z is recorded too.

The focus calibration (``focus_offset``, ``focus_mode``, ``a0``) is kept by the scanner,
used by every energy move and recorded in the configuration of every run that reads it:
``focus_scan`` updates ``focus_offset``.
"""

import numbers

from ophyd import Component as Cpt
from ophyd import EpicsMotor, PseudoPositioner, PseudoSingle, Signal
from ophyd.pseudopos import pseudo_position_argument, real_position_argument

from ..config import BeamlineConfig
from ..limits import check_energy
from .axes import EpicsMonochromator, SimAxis, SimMonochromator
from .limits import as_device_limit
from .sim_signals import WorldReadbacks

MOVE_TIMEOUT_S = 120.0
"""An EPICS move that has not finished after this long fails (e.g. the IOC is gone), s."""


FOCUS_MODES = ("sample", "osa")
"""Where the zone plate focuses: on the sample, or on the OSA plane (A0 upstream), as for
aligning the OSA."""


class FocusModeSignal(Signal):
    """``focus_mode``: one of ``FOCUS_MODES``."""

    def put(self, value, **kwargs) -> None:
        if value not in FOCUS_MODES:
            raise ValueError(f"focus_mode must be one of {FOCUS_MODES}, got {value!r}")
        super().put(value, **kwargs)


class A0Signal(Signal):
    """``a0``: the OSA-to-sample distance (um), within what the geometry allows."""

    def put(self, value, **kwargs) -> None:
        config = self.parent.config
        config.zone_plate.check_a0(float(value), config.mono.energy_limits_eV)
        super().put(float(value), **kwargs)


def calibrated_focus_z_um(
    config: BeamlineConfig, energy_eV: float, focus_offset_um: float, focus_mode: str, a0_um: float
) -> float:
    """Zone-plate Z that focuses ``energy_eV`` (eV), um: the nominal focus plus the
    calibration ``focus_offset_um``, plus ``a0_um`` when focused on the OSA (``focus_mode``
    "osa")."""
    z = config.zone_plate.focus_z_um(energy_eV) + focus_offset_um
    return z + a0_um if focus_mode == "osa" else z


class ZonePlateScanner(PseudoPositioner):
    """Interface shared by both backends. Components (all in eV or um):

    energy (pseudo), mono, zp_z (reals), osa_z, osa_x, osa_y, fine_x, fine_y, coarse_x,
    coarse_y; the focus calibration: focus_offset (um of zone-plate Z from the nominal
    focus, found by ``focus_scan``), focus_mode ("sample" or "osa") and a0 (um).
    """

    _real = ("mono", "zp_z")
    energy = Cpt(PseudoSingle, egu="eV", kind="hinted")
    focus_offset = Cpt(Signal, value=0.0, kind="config")
    focus_mode = Cpt(FocusModeSignal, value="sample", kind="config")
    a0 = Cpt(A0Signal, value=0.0, kind="config")

    def __init__(self, prefix: str = "", *, config: BeamlineConfig, **kwargs) -> None:
        self.config = config
        super().__init__(prefix, **kwargs)
        self.mono.backlash = config.mono.backlash_eV
        self.a0.put(config.zone_plate.a0_um)

    def focus_z_um(self, energy_eV: float) -> float:
        """Zone-plate Z that focuses ``energy_eV`` with the current calibration, um."""
        return calibrated_focus_z_um(
            self.config, energy_eV, self.focus_offset.get(), self.focus_mode.get(), self.a0.get()
        )

    def check_value(self, value) -> None:
        """Check a move as ``set`` takes it: an energy (eV) or a pseudo position."""
        if isinstance(value, numbers.Real):
            value = self.PseudoPosition(energy=value)
        energy = value[0] if isinstance(value, tuple | list) else getattr(value, "energy", value)
        with as_device_limit():
            check_energy(self.config, float(energy))
        super().check_value(value)

    @pseudo_position_argument
    def forward(self, pseudo):
        return self.RealPosition(mono=pseudo.energy, zp_z=self.focus_z_um(pseudo.energy))

    @real_position_argument
    def inverse(self, real):
        return self.PseudoPosition(energy=real.mono)


class SimZonePlateScanner(WorldReadbacks, ZonePlateScanner):
    """Zone-plate scanner on the simulated beamline; pass ``world=``."""

    mono = Cpt(SimMonochromator)
    zp_z = Cpt(SimAxis, axis="zp_z")
    osa_z = Cpt(SimAxis, axis="osa_z", kind="config")
    osa_x = Cpt(SimAxis, axis="osa_x", kind="config")
    osa_y = Cpt(SimAxis, axis="osa_y", kind="config")
    fine_x = Cpt(SimAxis, axis="fine_x")
    fine_y = Cpt(SimAxis, axis="fine_y")
    coarse_x = Cpt(SimAxis, axis="coarse_x")
    coarse_y = Cpt(SimAxis, axis="coarse_y")

    def __init__(self, prefix: str = "", *, world, **kwargs) -> None:
        self.world = world
        super().__init__(prefix, config=world.config, **kwargs)
        self.mono.settle_s = world.config.mono.settle_time_s


class EpicsZonePlateScanner(ZonePlateScanner):
    """Zone-plate scanner over EPICS motor records ``{prefix}Energy``, ``{prefix}ZpZ``, ..."""

    mono = Cpt(EpicsMonochromator, "Energy", timeout=MOVE_TIMEOUT_S)
    zp_z = Cpt(EpicsMotor, "ZpZ", timeout=MOVE_TIMEOUT_S)
    osa_z = Cpt(EpicsMotor, "OsaZ", kind="config", timeout=MOVE_TIMEOUT_S)
    osa_x = Cpt(EpicsMotor, "OsaX", kind="config", timeout=MOVE_TIMEOUT_S)
    osa_y = Cpt(EpicsMotor, "OsaY", kind="config", timeout=MOVE_TIMEOUT_S)
    fine_x = Cpt(EpicsMotor, "FineX", timeout=MOVE_TIMEOUT_S)
    fine_y = Cpt(EpicsMotor, "FineY", timeout=MOVE_TIMEOUT_S)
    coarse_x = Cpt(EpicsMotor, "CoarseX", timeout=MOVE_TIMEOUT_S)
    coarse_y = Cpt(EpicsMotor, "CoarseY", timeout=MOVE_TIMEOUT_S)

    def __init__(self, prefix: str = "", *, config: BeamlineConfig, **kwargs) -> None:
        super().__init__(prefix, config=config, **kwargs)
        self.mono.settle_time = config.mono.settle_time_s
