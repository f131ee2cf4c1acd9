"""The simulated beamline world: a clock, the stage and optics, a liquid cell of particles.

Time advances only when something takes time: a motor move, a raster line, a point dwell or an
explicit hold. The electrochemistry runs during all of it. Everything is deterministic for a
given seed.
"""

import math
import threading
from dataclasses import dataclass

import numpy as np

from ..config import BeamlineConfig
from ..limits import check_line, check_raster, check_travel, raster_line
from ..physics.electrode import Electrode
from ..physics.optics import probe_sigma_nm
from ..physics.particle import PlateletModel, PlateletParameters
from ..physics.spectra import ReferenceSpectra
from .potentiostat import PotentiostatModel
from .sample import PlacedParticle
from .shutter import ShutterModel

AXES = ("energy", "zp_z", "osa_z", "osa_x", "osa_y", "fine_x", "fine_y", "coarse_x", "coarse_y")
"""Simulated axes: energy in eV, all others in um."""


@dataclass(frozen=True)
class ScanResult:
    """A fly-scanned line, or a raster of them, and what was recorded with it.

    Attributes
    ----------
    counts : int array of detector counts, (n,) for a line, (ny, nx) for a raster.
    x_um, y_um : fine-stage positions the encoders recorded at each point, um (same shape).
    energy_eV : mono energy during the scan.
    start_s, end_s : simulated clock at the first point and after the last, s.
    i0_counts : counts per point with no sample and no membrane (flux monitor).
    """

    counts: np.ndarray
    x_um: np.ndarray
    y_um: np.ndarray
    energy_eV: float
    start_s: float
    end_s: float
    i0_counts: float


class SimulatedBeamline:
    """The world that the simulated devices and the caproto IOC share.

    Parameters
    ----------
    config : beamline configuration (limits, optics, potentiostat, particles).
    """

    def __init__(self, config: BeamlineConfig | None = None) -> None:
        self.config = config = config or BeamlineConfig()
        config.validate()
        self.lock = threading.RLock()
        sim = config.sim
        self.spectra = ReferenceSpectra.load_default()
        params = PlateletParameters(
            diffusivity_cm2_s=sim.diffusivity_cm2_s,
            exchange_current_mA_cm2=sim.exchange_current_mA_cm2,
            rate_spread=sim.rate_spread,
            j0_form=sim.j0_form,
        )
        self.particles = [
            PlacedParticle(
                PlateletModel(
                    p.n_010, p.n_001, sim.pixel_nm, params, seed=sim.seed + 101 * i, x0=p.x0
                ),
                p.center_um,
                p.angle_deg,
                p.thickness_nm,
            )
            for i, p in enumerate(sim.particles)
        ]
        self.electrode = Electrode(
            [p.model for p in self.particles], config.potentiostat.capacity_Ah
        )
        self.potentiostat = PotentiostatModel(self.electrode, config.potentiostat)
        self.clock_s = 0.0
        self.listeners: list = []
        """Callables run with no arguments after every clock advance (e.g. device monitors)."""
        self.nominal_beam_current_mA = 500.0
        self.beam_dumps: list[tuple[float, float]] = []
        """Scheduled beam losses as (start, end) on the simulated clock, s."""
        self.shutter = ShutterModel()
        self._rng = np.random.default_rng(sim.seed + 7)
        drift_rng = np.random.default_rng(sim.seed + 13)
        self._drift_direction = drift_rng.uniform(0, 2 * np.pi)
        self._drift_wobble = drift_rng.uniform(0, 2 * np.pi, size=(2, 3))
        energy = float(np.mean(config.mono.energy_limits_eV))
        self.positions = {axis: 0.0 for axis in AXES}
        self.positions["energy"] = energy
        self.positions["zp_z"] = config.zone_plate.focus_z_um(energy)

    # --- limits and geometry ---------------------------------------------------------------
    def limits(self, axis: str) -> tuple[float, float]:
        """Travel of an axis (eV for energy, um otherwise)."""
        c = self.config
        return {
            "energy": c.mono.energy_limits_eV,
            "zp_z": c.zone_plate.z_travel_um,
            "osa_z": c.zone_plate.osa_z_travel_um,
            "osa_x": c.zone_plate.osa_xy_travel_um,
            "osa_y": c.zone_plate.osa_xy_travel_um,
            "fine_x": c.stage.fine_travel_um,
            "fine_y": c.stage.fine_travel_um,
            "coarse_x": c.stage.coarse_travel_um,
            "coarse_y": c.stage.coarse_travel_um,
        }[axis]

    def velocity(self, axis: str) -> float:
        """Speed of an axis, eV/s or um/s."""
        c = self.config
        return {
            "energy": c.mono.velocity_eV_s,
            "zp_z": c.zone_plate.z_velocity_um_s,
            "osa_z": c.zone_plate.z_velocity_um_s,
            "osa_x": c.zone_plate.z_velocity_um_s,
            "osa_y": c.zone_plate.z_velocity_um_s,
            "fine_x": c.stage.fine_velocity_um_s,
            "fine_y": c.stage.fine_velocity_um_s,
            "coarse_x": c.stage.coarse_velocity_um_s,
            "coarse_y": c.stage.coarse_velocity_um_s,
        }[axis]

    def check_position(self, axis: str, value: float) -> None:
        """Raise LimitViolation if ``value`` is outside the axis travel."""
        check_travel(axis, value, self.limits(axis), "eV" if axis == "energy" else "um")

    def focus_z_um(self, energy_eV: float) -> float:
        """Zone-plate Z that truly focuses this energy on the sample, um."""
        return self.config.zone_plate.focus_z_um(energy_eV) + self.config.sim.sample_z_offset_um

    def drift_um(self, time_s: float | None = None) -> np.ndarray:
        """Sample drift (x, y) at a time: a steady creep plus slow wobble, um."""
        t = self.clock_s if time_s is None else time_s
        rate = self.config.sim.drift_nm_per_min / 60e3
        direction = np.array([np.cos(self._drift_direction), np.sin(self._drift_direction)])
        periods = np.array([600.0, 1700.0, 4100.0])
        wobble = (np.sin(2 * np.pi * t / periods + self._drift_wobble) / [1, 2, 3]).sum(axis=1)
        return rate * t * direction + 0.3 * rate * 60 * wobble

    # --- time ----------------------------------------------------------------------------
    def advance(self, duration_s: float) -> None:
        """Let simulated time pass; the electrochemistry runs meanwhile."""
        if duration_s < 0 or not math.isfinite(duration_s):
            raise ValueError(f"cannot advance the clock by {duration_s} s")
        with self.lock:
            if self.shutter.is_open:
                self.shutter.expose(duration_s, self.photon_rate_hz())
            self.potentiostat.advance(duration_s)
            self.clock_s += duration_s
            for listener in self.listeners:
                listener()

    def move(self, axis: str, value: float, settle_s: float = 0.0) -> None:
        """Move an axis (validated first); the clock advances by the travel and settle time."""
        with self.lock:
            self.check_position(axis, value)
            travel = abs(value - self.positions[axis]) / self.velocity(axis)
            self.advance(travel + settle_s)
            self.positions[axis] = float(value)

    # --- imaging ---------------------------------------------------------------------------
    def beam_position_um(self) -> np.ndarray:
        """Stage position of the beam on the sample holder (fine + coarse), um."""
        p = self.positions
        return np.array([p["coarse_x"] + p["fine_x"], p["coarse_y"] + p["fine_y"]])

    def optical_density(self, x_um: np.ndarray, y_um: np.ndarray) -> np.ndarray:
        """Noise-free optical density at stage positions, at the current energy and focus."""
        energy = self.positions["energy"]
        mu_lfp, mu_fp = self.spectra.mu(energy)
        defocus = self.positions["zp_z"] - self.focus_z_um(energy)
        sigma = probe_sigma_nm(defocus, energy, self.config.zone_plate.outer_zone_nm)
        drift = self.drift_um()
        sx = np.asarray(x_um) + self.positions["coarse_x"] - drift[0]
        sy = np.asarray(y_um) + self.positions["coarse_y"] - drift[1]
        od = np.full(sx.shape, self.config.sim.membrane_od)
        for particle in self.particles:
            lithiated, delithiated = particle.phase_thickness_nm(sx, sy, sigma)
            od += (lithiated * mu_lfp + delithiated * mu_fp) / 1e3
        return od

    @property
    def beam_current_mA(self) -> float:
        """Storage-ring current now: nominal, or 0 during a scheduled beam dump, mA."""
        dumped = any(start <= self.clock_s < end for start, end in self.beam_dumps)
        return 0.0 if dumped else self.nominal_beam_current_mA

    def schedule_beam_dump(self, start_s: float, duration_s: float) -> None:
        """Lose the beam from ``start_s`` for ``duration_s`` of simulated time."""
        if not duration_s > 0:
            raise ValueError(f"a beam dump must last a positive time, got {duration_s} s")
        self.beam_dumps.append((float(start_s), float(start_s + duration_s)))

    def photon_rate_hz(self) -> float:
        """Photons per second that reach the sample with the shutter open."""
        return self.config.detector.i0_rate_hz * self.beam_current_mA / self.nominal_beam_current_mA

    def incident_counts(self, dwell_s: float) -> float:
        """Expected counts with nothing in the beam for one dwell: none with the shutter
        closed."""
        return self.photon_rate_hz() * dwell_s if self.shutter.is_open else 0.0

    def acquire_line(
        self,
        start_um: tuple[float, float],
        stop_um: tuple[float, float],
        num_points: int,
        dwell_ms: float,
    ) -> ScanResult:
        """Fly the fine stage from ``start_um`` to ``stop_um`` ((x, y), um) counting
        ``num_points`` points of ``dwell_ms`` each, as a piezo controller with a counter does.

        The stage first moves to the start (both axes at once) and the controller settles
        (``detector.line_overhead_ms``); the shutter is open only while counting. Recorded
        positions include the piezo jitter the encoders see. LimitViolation for a line the
        stage or counter cannot do.
        """
        check_line(self.config, start_um, stop_um, num_points, dwell_ms)
        with self.lock:
            to_start = max(
                abs(start_um[0] - self.positions["fine_x"]),
                abs(start_um[1] - self.positions["fine_y"]),
            )
            self.advance(
                self.config.detector.line_overhead_ms / 1e3 + to_start / self.velocity("fine_x")
            )
            with self.shutter.exposure(lambda: self.clock_s):
                start, dwell_s = self.clock_s, dwell_ms / 1e3
                jitter = self.config.sim.piezo_jitter_nm / 1e3
                x = np.linspace(start_um[0], stop_um[0], num_points)
                x += jitter * self._rng.standard_normal(num_points)
                y = np.linspace(start_um[1], stop_um[1], num_points)
                y += jitter * self._rng.standard_normal(num_points)
                incident = self.incident_counts(dwell_s)
                counts = self._rng.poisson(incident * np.exp(-self.optical_density(x, y)))
                self.advance(num_points * dwell_s)
            self.positions["fine_x"], self.positions["fine_y"] = float(x[-1]), float(y[-1])
            return ScanResult(counts, x, y, self.positions["energy"], start, self.clock_s, incident)

    def acquire_raster(
        self,
        center_x_um: float,
        center_y_um: float,
        num_x: int,
        num_y: int,
        step_nm: float,
        dwell_ms: float,
    ) -> ScanResult:
        """A whole raster, line after line (``acquire_line``). The sample (and its
        electrochemistry) keeps changing during the image and drifts between lines."""
        check_raster(self.config, center_x_um, center_y_um, num_x, num_y, step_nm, dwell_ms)
        with self.lock:
            lines = [
                self.acquire_line(
                    *raster_line(center_x_um, center_y_um, num_x, num_y, step_nm, row),
                    num_x,
                    dwell_ms,
                )
                for row in range(num_y)
            ]
        return ScanResult(
            np.stack([line.counts for line in lines]),
            np.stack([line.x_um for line in lines]),
            np.stack([line.y_um for line in lines]),
            lines[0].energy_eV,
            lines[0].start_s,
            lines[-1].end_s,
            lines[0].i0_counts,
        )

    def acquire_point(self, dwell_ms: float) -> int:
        """Count at the current stage position for one dwell."""
        if not dwell_ms > 0:
            raise ValueError(f"dwell must be positive, got {dwell_ms} ms")
        with self.lock, self.shutter.exposure(lambda: self.clock_s):
            od = self.optical_density(
                np.array([self.positions["fine_x"]]), np.array([self.positions["fine_y"]])
            )
            counts = self._rng.poisson(self.incident_counts(dwell_ms / 1e3) * np.exp(-od[0]))
            self.advance(dwell_ms / 1e3)
            return int(counts)

    # --- ground truth ----------------------------------------------------------------------
    def true_fraction_maps(self) -> list[np.ndarray]:
        """Li fraction grid of every particle now (axis 0 = [010], axis 1 = [001])."""
        with self.lock:
            return [p.model.fraction_map() for p in self.particles]

    def true_end_uptake(self) -> list[np.ndarray]:
        """Integrated end flux of every particle (model units); differences give j_Ch."""
        with self.lock:
            return [p.model.end_uptake.copy() for p in self.particles]
