"""Pure numpy analysis: frames to optical density, Li fraction, drift, channels and kinetics.

Usable from a notebook; the live callbacks and the offline replay call the same functions.
Nothing here imports bluesky or Qt.
"""

from .channels import Channel, ParticleAxes, channels, particle_axes
from .electrochem import (
    REFERENCE_OCV_V,
    GalvanostaticStep,
    OverpotentialRow,
    c_rate,
    charge_passed_Ah,
    overpotential,
    overpotential_table,
    state_of_charge,
)
from .focus import best_focus, edge_sharpness
from .kinetics import (
    J0Fit,
    channel_current,
    exchange_current,
    exchange_current_butler_volmer,
    fit_j0,
    frame_exchange_current,
    j0_skewed,
    rate_map,
    surface_composition,
)
from .masks import particle_height, particle_mask
from .optical_density import (
    fraction_and_thickness,
    optical_density,
    unmix_partial_coverage,
    unmix_stack,
    unmix_two_energy,
)
from .pipeline import blank_region
from .placement import fill_missing, place_by_position
from .registration import align_series, apply_shift, register_frames, register_series
from .statistics import SurfaceStatistics, surface_statistics
from .tracking import particle_centroid_um

__all__ = [
    "REFERENCE_OCV_V",
    "Channel",
    "GalvanostaticStep",
    "J0Fit",
    "OverpotentialRow",
    "ParticleAxes",
    "SurfaceStatistics",
    "align_series",
    "apply_shift",
    "best_focus",
    "blank_region",
    "c_rate",
    "channel_current",
    "channels",
    "charge_passed_Ah",
    "edge_sharpness",
    "exchange_current",
    "exchange_current_butler_volmer",
    "fill_missing",
    "fit_j0",
    "fraction_and_thickness",
    "frame_exchange_current",
    "j0_skewed",
    "optical_density",
    "overpotential",
    "overpotential_table",
    "particle_axes",
    "particle_centroid_um",
    "particle_height",
    "particle_mask",
    "place_by_position",
    "rate_map",
    "register_frames",
    "register_series",
    "state_of_charge",
    "surface_composition",
    "surface_statistics",
    "unmix_partial_coverage",
    "unmix_stack",
    "unmix_two_energy",
]
