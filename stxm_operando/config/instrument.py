"""The instrument's configuration sections: monochromator, stages, zone plate, potentiostat,
detector, and the simulated sample."""

import math
from dataclasses import dataclass, field

from ..physics.optics import focal_length_um
from ..physics.particle import J0_FORMS, PlateletParameters
from .types import KEYS_AND_TYPES, Count, Number, Range, Text, check_range, require


@dataclass(frozen=True)
class MonoConfig:
    """Monochromator: energy limits (eV), backlash (eV), settle time (s), speed (eV/s)."""

    __pydantic_config__ = KEYS_AND_TYPES

    energy_limits_eV: Range = (700.0, 720.0)
    backlash_eV: Number = 0.5
    settle_time_s: Number = 0.05
    velocity_eV_s: Number = 2.0

    def validate(self, where: str) -> None:
        check_range(self.energy_limits_eV, f"{where}.energy_limits_eV")
        require(self.backlash_eV >= 0, where, "backlash_eV must not be negative")
        require(self.settle_time_s >= 0, where, "settle_time_s must not be negative")
        require(self.velocity_eV_s > 0, where, "velocity_eV_s must be positive")


@dataclass(frozen=True)
class StageConfig:
    """Sample stage travel (um) and speeds (um/s); fine = piezo, coarse = stepper."""

    __pydantic_config__ = KEYS_AND_TYPES

    fine_travel_um: Range = (-50.0, 50.0)
    coarse_travel_um: Range = (-5000.0, 5000.0)
    fine_velocity_um_s: Number = 200.0
    coarse_velocity_um_s: Number = 2000.0

    def validate(self, where: str) -> None:
        check_range(self.fine_travel_um, f"{where}.fine_travel_um")
        check_range(self.coarse_travel_um, f"{where}.coarse_travel_um")
        require(
            self.fine_velocity_um_s > 0 and self.coarse_velocity_um_s > 0,
            where,
            "velocities must be positive",
        )


@dataclass(frozen=True)
class ZonePlateConfig:
    """Zone plate and order-sorting aperture (OSA): zone-plate diameter (um), outer zone
    width (nm), Z offset and travel (um); OSA Z and X/Y travel (um); A0, the OSA-to-sample
    distance (um), its collision minimum and the least zone-plate-to-OSA gap (um)."""

    __pydantic_config__ = KEYS_AND_TYPES

    diameter_um: Number = 240.0
    outer_zone_nm: Number = 25.0
    z_offset_um: Number = 0.0
    z_travel_um: Range = (2000.0, 6000.0)
    osa_z_travel_um: Range = (-2000.0, 2000.0)
    osa_xy_travel_um: Range = (-1000.0, 1000.0)
    z_velocity_um_s: Number = 500.0
    a0_um: Number = 500.0
    min_a0_um: Number = 150.0
    min_zp_osa_gap_um: Number = 200.0

    def focus_z_um(self, energy_eV: float) -> float:
        """Zone-plate Z that focuses ``energy_eV`` on the nominal sample plane, um."""
        return focal_length_um(energy_eV, self.diameter_um, self.outer_zone_nm) + self.z_offset_um

    def a0_limits_um(self, energy_limits_eV: Range) -> Range:
        """The A0 range the geometry allows over these energies, um: the OSA no closer to the
        sample than ``min_a0_um`` and, at the shortest focal length (lowest energy), at
        least ``min_zp_osa_gap_um`` downstream of the zone plate."""
        shortest_focus = focal_length_um(
            min(energy_limits_eV), self.diameter_um, self.outer_zone_nm
        )
        return self.min_a0_um, shortest_focus - self.min_zp_osa_gap_um

    def check_a0(self, a0_um: float, energy_limits_eV: Range) -> None:
        """Raise ValueError unless ``a0_um`` is within ``a0_limits_um``."""
        low, high = self.a0_limits_um(energy_limits_eV)
        if not (math.isfinite(a0_um) and low <= a0_um <= high):
            raise ValueError(
                f"A0 {a0_um} um is outside [{low:.0f}, {high:.0f}] um: the OSA would hit the "
                "sample or the zone plate"
            )

    def check_focus_travel(self, energy_limits_eV: Range, where: str) -> None:
        """ConfigError unless the zone plate's Z travel holds its focus at every energy of
        the monochromator's range (the zone plate follows energy)."""
        focus = [self.focus_z_um(e) for e in energy_limits_eV]
        low, high = self.z_travel_um
        require(
            low <= min(focus) and max(focus) <= high,
            where,
            f"the focus runs from {min(focus):.0f} to {max(focus):.0f} um over the "
            f"monochromator's {energy_limits_eV[0]:g}-{energy_limits_eV[1]:g} eV, beyond the "
            f"zone plate's travel [{low:g}, {high:g}] um",
        )

    def validate(self, where: str) -> None:
        require(
            self.diameter_um > 0 and self.outer_zone_nm > 0,
            where,
            "diameter_um and outer_zone_nm must be positive",
        )
        check_range(self.z_travel_um, f"{where}.z_travel_um")
        check_range(self.osa_z_travel_um, f"{where}.osa_z_travel_um")
        check_range(self.osa_xy_travel_um, f"{where}.osa_xy_travel_um")
        require(self.z_velocity_um_s > 0, where, "z_velocity_um_s must be positive")
        require(
            0 <= self.min_a0_um and 0 <= self.min_zp_osa_gap_um,
            where,
            "min_a0_um and min_zp_osa_gap_um must not be negative",
        )


MAX_LOG_INTERVAL_S = 60.0
"""Longest interval between the potentiostat's log entries, s: a step is followed by its
readings, and a minute between them is already coarse for a 13-minute lithiation."""


@dataclass(frozen=True)
class PotentiostatConfig:
    """Potentiostat: electrode capacity (Ah), current compliance (A), voltage window (V)."""

    __pydantic_config__ = KEYS_AND_TYPES

    capacity_Ah: Number = 1e-6
    max_current_A: Number = 2e-5
    voltage_limits_V: Range = (2.0, 4.5)
    log_interval_s: Number = 1.0
    log_length: Count = 4096
    watchdog_s: Number = 10.0
    """Wall seconds without a word from the client after which the IOC opens the circuit
    (0: no watchdog)."""
    write_hosts: tuple[Text, ...] = ()
    """Channel Access client host names allowed to write the potentiostat's PVs over the
    IOC (empty: any host that can reach it; the IOC binds loopback unless told otherwise)."""
    backend: Text = ""
    """"" (the session's backend: simulated or EPICS) or "methodscript" (a PalmSens
    instrument at ``port``)."""
    port: Text = ""
    """The MethodSCRIPT instrument's serial port: a device path (``/dev/ttyACM0``) or any
    pyserial URL (``socket://host:port``, ``rfc2217://host:port``)."""
    current_ranges_A: tuple[Number, ...] = (1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2)
    """The instrument's current ranges, A (default: an EmStat4 LR's)."""

    @property
    def capacity_C(self) -> float:
        """Electrode capacity, C."""
        return self.capacity_Ah * 3600.0

    def validate(self, where: str) -> None:
        require(self.capacity_Ah > 0, where, "capacity_Ah must be positive")
        require(
            0 < self.max_current_A < math.inf, where, "max_current_A must be positive and finite"
        )
        require(0 <= self.watchdog_s < math.inf, where, "watchdog_s must be >= 0 and finite")
        check_range(self.voltage_limits_V, f"{where}.voltage_limits_V")
        require(
            0 < self.log_interval_s <= MAX_LOG_INTERVAL_S,
            where,
            f"log_interval_s must be above 0 and at most {MAX_LOG_INTERVAL_S:g} s",
        )
        require(self.log_length > 0, where, "log_length must be positive")
        require(
            self.backend in ("", "methodscript"),
            where,
            f"backend must be '' or 'methodscript', got {self.backend!r}",
        )
        require(
            self.backend != "methodscript" or bool(self.port),
            where,
            "backend 'methodscript' needs the instrument's port (e.g. /dev/ttyACM0)",
        )
        require(
            bool(self.current_ranges_A) and all(r > 0 for r in self.current_ranges_A),
            where,
            "current_ranges_A must be positive currents, A",
        )


@dataclass(frozen=True)
class DetectorConfig:
    """Counting detector: incident rate (counts/s at full beam), largest raster (pixels),
    the line controller's overhead per line (arming and settling, ms; the fly-back is
    stage travel)."""

    __pydantic_config__ = KEYS_AND_TYPES

    i0_rate_hz: Number = 1e7
    max_pixels: Count = 1024 * 1024
    line_overhead_ms: Number = 2.0

    def validate(self, where: str) -> None:
        require(self.i0_rate_hz > 0, where, "i0_rate_hz must be positive")
        require(self.max_pixels > 0, where, "max_pixels must be positive")
        require(self.line_overhead_ms >= 0, where, "line_overhead_ms must not be negative")


MAX_PARTICLE_CELLS = 1000
"""Most channels ([010], ``n_010``) or cells along one ([001], ``n_001``) of a simulated
platelet: tens of um at the default pixel, far beyond a real LiFePO4 platelet."""


@dataclass(frozen=True)
class ParticleConfig:
    """One simulated platelet: centre (um), [001] axis angle (deg), size (pixels), thickness."""

    __pydantic_config__ = KEYS_AND_TYPES

    center_um: Range = (0.0, 0.0)
    angle_deg: Number = 0.0
    n_010: Count = 10
    n_001: Count = 25
    thickness_nm: Number = 150.0
    x0: Number = 0.02

    def validate(self, where: str) -> None:
        require(
            3 <= self.n_010 <= MAX_PARTICLE_CELLS and 1 <= self.n_001 <= MAX_PARTICLE_CELLS,
            where,
            f"a particle needs n_010 from 3 and n_001 from 1, each at most {MAX_PARTICLE_CELLS}",
        )
        require(self.thickness_nm > 0, where, "thickness_nm must be positive")
        require(0 < self.x0 < 1, where, "x0 must be inside (0, 1)")


def _default_particles() -> tuple[ParticleConfig, ...]:
    return (
        ParticleConfig(center_um=(-0.9, 0.2), angle_deg=15.0, n_010=10, n_001=25),
        ParticleConfig(
            center_um=(1.0, -0.4), angle_deg=-20.0, n_010=9, n_001=22, thickness_nm=130.0
        ),
    )


@dataclass(frozen=True)
class SimConfig:
    """Simulated world: seed, pixel size (nm), membrane OD, drift (nm/min), piezo jitter (nm),
    sample height off the nominal focal plane (um, unknown to the controls), model, particles."""

    __pydantic_config__ = KEYS_AND_TYPES

    seed: Count = 0
    pixel_nm: Number = 40.0
    membrane_od: Number = 0.15
    drift_nm_per_min: Number = 6.0
    piezo_jitter_nm: Number = 2.0
    sample_z_offset_um: Number = 0.0
    diffusivity_cm2_s: Number = PlateletParameters.diffusivity_cm2_s
    exchange_current_mA_cm2: Number = PlateletParameters.exchange_current_mA_cm2
    rate_spread: Number = PlateletParameters.rate_spread
    j0_form: Text = PlateletParameters.j0_form
    particles: tuple[ParticleConfig, ...] = field(default_factory=_default_particles)

    def validate(self, where: str) -> None:
        require(self.pixel_nm > 0, where, "pixel_nm must be positive")
        require(
            self.membrane_od >= 0 and self.drift_nm_per_min >= 0,
            where,
            "membrane_od and drift_nm_per_min must not be negative",
        )
        require(self.j0_form in J0_FORMS, where, f"j0_form must be one of {J0_FORMS}")
        require(len(self.particles) > 0, where, "at least one particle is needed")
        for i, particle in enumerate(self.particles):
            particle.validate(f"{where}.particles[{i}]")
