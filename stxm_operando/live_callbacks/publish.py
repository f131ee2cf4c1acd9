"""Analysis results as event-model documents, so they are stored and replayable."""

from collections.abc import Callable

import numpy as np
from event_model import compose_run

from .operando import FrameRecord

Sink = Callable[[str, dict], None]


def channel_capacity(image_shape: tuple[int, ...]) -> int:
    """Most [010] channels a particle in an image of this shape can have (its diagonal, px)."""
    return int(np.ceil(np.hypot(*image_shape))) + 1


def padded(values, length: int) -> np.ndarray:
    """Per-channel values in a fixed-length array, NaN past the particle's channels."""
    values = np.asarray(values, dtype=float)
    out = np.full(length, np.nan)
    out[: min(values.size, length)] = values[:length]
    return out


class AnalysisPublisher:
    """Emits one analysis run per series: a stream per particle, an event per frame.

    Every key keeps one shape for the whole stream, as the catalog needs: the per-channel
    arrays ``x_surf`` and ``j_ch`` are NaN-padded to ``channel_capacity`` of the particle's
    image and ``n_channels`` says how many are real (a particle's channel count changes
    from frame to frame as its edges move across the pixel grid).

    Attach with ``analysis.frame_listeners.append(publisher)`` and pass the documents to a
    sink, e.g. a catalog writer. Call ``close()`` to emit the stop document.
    """

    def __init__(self, sink: Sink, md: dict | None = None) -> None:
        self.sink, self.md = sink, dict(md or {})
        self._run = None
        self._streams: dict[int, object] = {}

    def __call__(self, frame: FrameRecord) -> None:
        particle = frame.particle
        if particle is None:
            return
        if self._run is None:
            self._run = compose_run(
                metadata={"plan_name": "operando_analysis", "series_id": frame.series_id} | self.md
            )
            self.sink("start", self._run.start_doc)
        data = self._data(frame)
        if frame.particle_id not in self._streams:
            keys = {
                key: {
                    "source": "stxm_operando.analysis",
                    "dtype": _dtype(value),
                    "shape": list(np.shape(value)),
                }
                for key, value in data.items()
            }
            bundle = self._run.compose_descriptor(
                name=f"particle_{frame.particle_id}_analysis", data_keys=keys
            )
            self.sink("descriptor", bundle.descriptor_doc)
            self._streams[frame.particle_id] = bundle
        bundle = self._streams[frame.particle_id]
        timestamps = dict.fromkeys(data, frame.analysis.time_s)
        self.sink("event", bundle.compose_event(data=data, timestamps=timestamps))

    @staticmethod
    def _data(frame: FrameRecord) -> dict:
        particle, stats = frame.particle, frame.particle.statistics
        capacity = channel_capacity(frame.li_map.shape)
        j_ch = particle.j_ch if particle.j_ch is not None else []
        return {
            "frame_index": frame.frame_index,
            "time": frame.analysis.time_s,
            "mean_x": frame.mean_fraction,
            "x_surf_mean": stats.mean_surface,
            "x_internal_mean": stats.mean_internal,
            "active": stats.active_fraction,
            "transformed": stats.transformed_fraction,
            "uniformity": stats.uniformity,
            "li_map": np.nan_to_num(frame.li_map, nan=-1.0),
            "n_channels": len(particle.channels),
            "x_surf": padded(particle.x_surf, capacity),
            "j_ch": padded(j_ch, capacity),
        }

    def close(self, exit_status: str = "success") -> None:
        """Emit the stop document of the analysis run, if one was started."""
        if self._run is not None:
            self.sink("stop", self._run.compose_stop(exit_status=exit_status))
            self._run = None


def _dtype(value) -> str:
    if np.ndim(value):
        return "array"
    return "integer" if isinstance(value, int | np.integer) else "number"
