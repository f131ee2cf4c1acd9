"""One particle's imaging pass analysed: the pure pipeline of ``stxm_operando.analysis``
applied to the pass's images, and the record the monitor, the exports and the summary use."""

from dataclasses import dataclass, replace

import numpy as np

from ..analysis import REFERENCE_OCV_V, frame_exchange_current, place_by_position
from ..analysis.pipeline import FrameAnalysis, ParticleResult, analyse_frame_pair
from ..physics.spectra import ReferenceSpectra
from ..streams import DataKeys, particle_id_of
from .series import ImagingPass, series_of


@dataclass(frozen=True)
class FrameRecord:
    """The analysis of one particle in one imaging pass.

    Attributes
    ----------
    counts : the raw images at the two energies (ascending energy).
    voltage_V : cell voltage when the pair was taken, V.
    j0 : exchange current per channel from j_Ch and the overpotential (mA/cm2), or None.
    energies_eV : the energies of ``counts``, eV; pixel_size_nm : the raster step, nm.
    origin_um : stage (x, y) of the images' first pixel (row 0, column 0), um: the smallest
        recorded positions, where ``place_by_position`` starts the grid.
    """

    series_id: str
    frame_index: int
    protocol_step: int
    direction: str
    c_rate: float
    particle_id: int
    analysis: FrameAnalysis
    counts: tuple[np.ndarray, np.ndarray]
    voltage_V: float
    j0: np.ndarray | None = None
    energies_eV: tuple[float, ...] = ()
    pixel_size_nm: float = 40.0
    origin_um: tuple[float, float] = (0.0, 0.0)

    def stage_position_um(self, row: int, column: int) -> tuple[float, float]:
        """Stage (x, y) of pixel (row, column) of the images, um."""
        step_um = self.pixel_size_nm / 1e3
        return self.origin_um[0] + column * step_um, self.origin_um[1] + row * step_um

    @property
    def particle(self) -> ParticleResult | None:
        """The particle nearest the centre of the ROI (neighbours may show at the edges)."""
        if not self.analysis.particles:
            return None
        centre = np.array(self.analysis.x.shape) / 2 - 0.5
        return min(
            self.analysis.particles, key=lambda p: np.hypot(*(np.array(p.axes.center) - centre))
        )

    @property
    def mean_fraction(self) -> float:
        """Mean Li fraction of the particle (NaN if none was found)."""
        particle = self.particle
        if particle is None:
            return float("nan")
        return float(np.nanmean(self.analysis.x[particle.bbox][particle.mask]))

    def statistics_row(self) -> dict[str, float]:
        """Particle statistics of this frame: <x>, x_surf, x_internal, active and transformed
        fractions, uniformity and the mean j_Ch (mA/cm2; NaN without an earlier frame)."""
        particle = self.particle
        if particle is None:
            return {"mean_x": float("nan")}
        stats = particle.statistics
        return {
            "mean_x": self.mean_fraction,
            "x_surf": stats.mean_surface,
            "x_internal": stats.mean_internal,
            "active_fraction": stats.active_fraction,
            "transformed_fraction": stats.transformed_fraction,
            "uniformity": stats.uniformity,
            "mean_j_ch_mA_cm2": float(np.mean(particle.j_ch))
            if particle.j_ch is not None
            else float("nan"),
        }

    def channel_rows(self) -> list[dict]:
        """One row per [010] channel of the particle (``streams.CHANNEL_ROW_FIELDS``): its
        frame, x_surf, j_Ch and j0 (mA/cm2; NaN without an earlier frame, or without a j0);
        none without a particle or j_Ch."""
        particle = self.particle
        if particle is None or particle.j_ch is None:
            return []
        j0 = self.j0 if self.j0 is not None else np.full(len(particle.j_ch), np.nan)
        return [
            {
                "particle_id": self.particle_id,
                "direction": self.direction,
                "c_rate": self.c_rate,
                "frame_index": self.frame_index,
                "time_s": self.analysis.time_s,
                "channel": k,
                "x_surf": float(particle.x_surf[k]),
                "j_ch_mA_cm2": float(particle.j_ch[k]),
                "j0_mA_cm2": float(j0[k]),
            }
            for k in range(len(particle.j_ch))
        ]

    @property
    def li_map(self) -> np.ndarray:
        """Li fraction of the particle's pixels, NaN elsewhere."""
        particle = self.particle
        shown = np.full(self.analysis.x.shape, np.nan)
        if particle is not None:
            box = shown[particle.bbox]
            box[particle.mask] = self.analysis.x[particle.bbox][particle.mask]
        return shown


class FrameAnalyser:
    """Turns a complete two-energy ``ImagingPass`` into a ``FrameRecord``, keeping each
    particle's previous frame for dx/dt and j_Ch.

    Parameters
    ----------
    spectra : reference spectra giving mu at the imaging energies.
    min_thickness_um : thinnest pixel kept in a particle, um.
    reference_V : equilibrium voltage for overpotentials and j0, V.
    """

    def __init__(
        self,
        spectra: ReferenceSpectra,
        min_thickness_um: float = 0.05,
        reference_V: float = REFERENCE_OCV_V,
    ) -> None:
        self.spectra, self.min_thickness_um, self.reference_V = (
            spectra,
            min_thickness_um,
            reference_V,
        )
        self._previous: dict[tuple[str, int], FrameAnalysis] = {}

    def __call__(self, imaging_pass: ImagingPass) -> FrameRecord | None:
        """The pass's record (None unless it holds exactly two energies)."""
        start, images = imaging_pass.start, imaging_pass.images
        if len(images) != 2:
            return None
        particle_id = particle_id_of(imaging_pass.stream)
        keys = DataKeys.of_start(start)
        raster = {c: keys.key("raster", c) for c in ("energy", "image", "end_time")}
        by_energy = sorted(images, key=lambda e: e[raster["energy"]])
        energies = tuple(float(e[raster["energy"]]) for e in by_energy)
        step_nm = float(start["pixel_size_nm"])
        counts = tuple(
            place_by_position(
                e[raster["image"]],
                e[keys.key("raster", "x_positions")],
                e[keys.key("raster", "y_positions")],
                step_nm,
            )
            for e in by_energy
        )
        series = series_of(start)
        previous = self._previous.get((series, particle_id))
        if previous is not None and previous.x.shape != counts[0].shape:
            previous = None
        direction = start.get("direction", "")
        result = analyse_frame_pair(
            *counts,
            self.spectra.mu_matrix(list(energies)),
            time_s=float(by_energy[-1][raster["end_time"]]),
            pixel_size_nm=step_nm,
            direction=direction if direction in ("lithiation", "delithiation") else "lithiation",
            previous=previous,
            min_thickness=self.min_thickness_um,
        )
        self._previous[(series, particle_id)] = result
        voltages = [e.get(keys.key("potentiostat", "voltage"), np.nan) for e in by_energy]
        record = FrameRecord(
            series,
            imaging_pass.frame_index,
            int(start.get("protocol_step", 0)),
            direction,
            float(start.get("c_rate", 0.0)),
            particle_id,
            result,
            counts,
            float(np.mean(voltages)),
            energies_eV=energies,
            pixel_size_nm=step_nm,
            origin_um=(
                float(np.min(by_energy[0][keys.key("raster", "x_positions")])),
                float(np.min(by_energy[0][keys.key("raster", "y_positions")])),
            ),
        )
        particle = record.particle
        if particle is None:
            return record
        j0 = frame_exchange_current(particle.j_ch, record.voltage_V, direction, self.reference_V)
        return replace(record, j0=j0)
