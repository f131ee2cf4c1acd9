"""Export stored runs: NXstxm HDF5 (NeXus) with electrochemistry as NXlog, and CSV tables."""

import csv
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np
from event_model import DocumentRouter

from . import __version__
from .live_callbacks import OperandoAnalysis
from .live_callbacks.lines import assembled
from .live_callbacks.series import ElectrochemistryLog, SeriesIndex, series_of
from .storage import Catalog
from .storage.replay import replay, replay_documents, unpacked_documents
from .streams import CHANNEL_ROW_FIELDS, DataKeys, particle_id_of

LOG_QUANTITIES = (("voltage", "V"), ("current", "A"), ("charge", "C"))
SENSOR_MEASUREMENTS = ("voltage", "current")
"""The quantities NXsensor's ``measurement`` enumeration names (charge is not one)."""


@dataclass
class ImageSet:
    """The images of one particle in one imaging pass: its event documents, one per energy."""

    run_start: dict
    stream: str
    frame_index: int
    events: list[dict] = field(default_factory=list)


class ImageSetCollector(DocumentRouter):
    """The raster image events of the runs an ``index`` follows, by (run, stream, frame)."""

    def __init__(self, index: SeriesIndex) -> None:
        super().__init__()
        self.index = index
        self.image_sets: dict[tuple[str, str, int], ImageSet] = {}

    def event(self, doc: dict) -> None:
        located = self.index.locate(doc)
        if located is None:
            return
        start, stream = located
        if _raster_keys(start)["image"] in doc["data"]:
            key = (start["uid"], stream, int(doc["data"].get("frame_index", 0)))
            self.image_sets.setdefault(key, ImageSet(start, stream, key[2])).events.append(doc)


def _collect(
    catalog: Catalog, uid: str
) -> tuple[list[ImageSet], dict[str, np.ndarray], dict, float, dict]:
    """Image sets, electrochemistry arrays, the run's start document, the clock offset
    (Unix time minus beamline clock, s) of a run or series, and its frames as the live
    analysis has them, by (series, particle id, frame index); in one pass over the run."""
    index, analysis = SeriesIndex(), OperandoAnalysis()
    electrochemistry, images = ElectrochemistryLog(index), ImageSetCollector(index)

    def analysed(documents):
        for name, doc in documents:
            analysis(name, doc)  # the raw documents, as the live analysis gets them
            yield name, doc

    for name, doc in unpacked_documents(assembled(analysed(replay_documents(catalog, uid)))):
        for router in (index, electrochemistry, images):
            router(name, doc)
    sets = list(images.image_sets.values())
    frames = {(f.series_id, f.particle_id, f.frame_index): f for f in analysis.frames}
    return (
        sets,
        electrochemistry.arrays(),
        index.starts[uid],
        _clock_offset(sets, index.starts[uid]),
        frames,
    )


def _clock_offset(image_sets: list[ImageSet], start: dict) -> float:
    """Unix time minus beamline clock, s: from an image event (its wall time at the
    raster's end) or, without images, taking clock 0 as the run's start."""
    if image_sets:
        event = image_sets[0].events[0]
        end_time = _raster_keys(image_sets[0].run_start)["end_time"]
        return event["time"] - float(event["data"][end_time])
    return start["time"]


def _raster_keys(start: dict) -> dict[str, str]:
    """The data keys of the raster detector's image events in a run (``streams``)."""
    keys = DataKeys.of_start(start)
    components = ("image", "x_positions", "y_positions", "energy", "start_time", "end_time", "i0")
    return {component: keys.key("raster", component) for component in components}


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


NXSTXM_SUFFIXES = (".nxs", ".hdf5", ".hdf", ".stxm")
"""File names NXstxm readers (MANTiS's NXstxm plugin) recognise."""


def _group(parent: h5py.Group, name: str, nx_class: str) -> h5py.Group:
    group = parent.create_group(name)
    group.attrs["NX_class"] = nx_class
    return group


def _text_array(*values: str) -> np.ndarray:
    """Strings as a 1-D array of bytes, the form NXstxm readers index (``[0]``)."""
    return np.array([v.encode() for v in values])


def _write_logs(
    parent: h5py.Group, ec: dict[str, np.ndarray], t0: float, offset: float, window=None
) -> None:
    """Voltage, current and charge as NXsensor groups with NXlog ``value_log``; log times are
    seconds after ``t0`` (beamline clock, s), which ``time@start`` gives as a date (``offset``:
    Unix time minus beamline clock, s)."""
    time_s = ec["time"]
    keep = (
        np.ones(time_s.shape, bool)
        if window is None
        else ((time_s >= window[0]) & (time_s <= window[1]))
    )
    for quantity, unit in LOG_QUANTITIES:
        sensor = _group(parent, quantity, "NXsensor")
        sensor["name"] = f"potentiostat {quantity}"
        if quantity in SENSOR_MEASUREMENTS:
            sensor["measurement"] = quantity
        log = _group(sensor, "value_log", "NXlog")
        times = log.create_dataset("time", data=time_s[keep] - t0)
        times.attrs["units"], times.attrs["start"] = "s", _iso(t0 + offset)
        log.create_dataset("value", data=ec[quantity][keep]).attrs["units"] = unit


def _write_entry(
    nxfile: h5py.File, name: str, images: ImageSet, ec: dict, offset: float, frame=None
) -> None:
    """One imaging pass of one particle as an NXstxm entry (``sample image stack``), with its
    analysis (``frame``, a ``FrameRecord``) in ``analysis``. Times are on the beamline clock
    (the simulated one in simulation), as Unix time."""
    start = images.run_start
    raster = _raster_keys(start)
    events = sorted(images.events, key=lambda e: e["data"][raster["energy"]])
    values = [e["data"] for e in events]
    data = np.stack([np.asarray(v[raster["image"]]) for v in values])  # (nE, nY, nX)
    xs = np.stack([np.asarray(v[raster["x_positions"]], dtype=float) for v in values])
    ys = np.stack([np.asarray(v[raster["y_positions"]], dtype=float) for v in values])
    energies = np.array([float(v[raster["energy"]]) for v in values])
    x_axis, y_axis = xs.mean(axis=(0, 1)), ys.mean(axis=(0, 2))  # recorded positions, um
    dwell_s = float(start.get("dwell_ms", np.nan)) / 1e3
    first, last = values[0], values[-1]
    began = offset + float(first[raster["start_time"]])
    ended = offset + float(last[raster["end_time"]])
    entry = _group(nxfile, name, "NXentry")
    entry["definition"] = _text_array("NXstxm")
    entry["title"] = (
        f"{start.get('sample', '')} {images.stream} frame {images.frame_index} "
        f"({start.get('plan_name', '')})"
    ).strip()
    entry["start_time"], entry["end_time"] = _iso(began), _iso(ended)
    entry["experiment_identifier"] = start.get("series_id", start["uid"])
    # NXinstrument holds every scan point (nP = nE x nY x nX) as measured, with the recorded
    # stage positions; NXdata holds the same counts on the (energy, y, x) grid
    points = data.size
    instrument = _group(entry, "instrument", "NXinstrument")
    source = _group(instrument, "source", "NXsource")
    source["type"], source["name"], source["probe"] = "Synchrotron X-ray Source", "STXM", "x-ray"
    mono = _group(instrument, "monochromator", "NXmonochromator")
    per_point = np.repeat(energies, points // energies.size)
    mono.create_dataset("energy", data=per_point).attrs["units"] = "eV"
    detector = _group(instrument, "detector", "NXdetector")
    detector.create_dataset("data", data=data.ravel(), compression="gzip")
    detector["data"].attrs["units"] = "counts"
    for axis, positions in (("sample_x", xs), ("sample_y", ys)):
        group = _group(instrument, axis, "NXdetector")
        group.create_dataset("data", data=positions.ravel()).attrs["units"] = "um"
    sample = _group(entry, "sample", "NXsample")
    sample["name"] = str(start.get("sample", ""))
    sample.create_dataset("rotation_angle", data=0.0).attrs["units"] = "degree"
    _write_logs(
        _group(sample, "electrochemistry", "NXenvironment"),
        ec,
        float(first[raster["start_time"]]),
        offset,
        (float(first[raster["start_time"]]) - 1.0, float(last[raster["end_time"]]) + 1.0),
    )
    control = _group(entry, "control", "NXmonitor")
    incident = np.array([float(v[raster["i0"]]) for v in values])
    control.create_dataset("data", data=np.broadcast_to(incident[:, None, None], data.shape))
    control["data"].attrs["units"] = "counts"
    nxdata = _group(entry, "data", "NXdata")
    nxdata.attrs["signal"] = "data"
    nxdata.attrs["axes"] = _text_array("energy", "sample_y", "sample_x")
    for index, axis in enumerate(("energy", "sample_y", "sample_x")):
        nxdata.attrs[f"{axis}_indices"] = index
    scan_type = "sample image stack" if len(events) > 1 else "sample image"
    nxdata["stxm_scan_type"] = _text_array(scan_type)
    nxdata.create_dataset("data", data=data, compression="gzip").attrs["units"] = "counts"
    nxdata.create_dataset("energy", data=energies).attrs["units"] = "eV"
    nxdata.create_dataset("count_time", data=np.full(energies.shape, dwell_s))
    nxdata["count_time"].attrs["units"] = "s"
    nxdata.create_dataset("sample_x", data=x_axis).attrs["units"] = "um"
    nxdata.create_dataset("sample_y", data=y_axis).attrs["units"] = "um"
    if frame is not None and frame.li_map.shape == data.shape[1:]:
        _write_analysis(_group(entry, "analysis", "NXprocess"), frame, x_axis, y_axis)


def _write_analysis(process: h5py.Group, frame, x_axis: np.ndarray, y_axis: np.ndarray) -> None:
    """The frame's analysis: its Li fraction map on the stage axes and its channels' x_surf,
    j_Ch and j0, each an NXdata of its own (readers of the NXstxm entry see only ``data``)."""
    process["program"] = "stxm-operando"
    process["version"] = __version__
    process["sequence_index"] = np.int32(1)
    notes = _group(process, "notes", "NXnote")
    notes["description"] = (
        "Li fraction from the two-energy images (partial-coverage corrected), and the "
        "particle's [010] channels, as the live monitor shows them"
    )
    maps = _group(process, "li_fraction", "NXdata")
    maps.attrs["signal"] = "li_fraction"
    maps.attrs["axes"] = _text_array("sample_y", "sample_x")
    maps.attrs["sample_y_indices"], maps.attrs["sample_x_indices"] = 0, 1
    maps.create_dataset("li_fraction", data=frame.li_map).attrs["long_name"] = (
        "Li fraction x (NaN off the particle)"
    )
    maps.create_dataset("sample_x", data=x_axis).attrs["units"] = "um"
    maps.create_dataset("sample_y", data=y_axis).attrs["units"] = "um"
    rows = frame.channel_rows()
    if not rows:
        return
    channels = _group(process, "channels", "NXdata")
    channels.attrs["signal"] = "j_ch"
    channels.attrs["axes"] = _text_array("channel")
    channels.attrs["channel_indices"] = 0
    channels.create_dataset("channel", data=np.array([r["channel"] for r in rows]))
    for name, key, units in (
        ("x_surf", "x_surf", None),
        ("j_ch", "j_ch_mA_cm2", "mA/cm2"),
        ("j0", "j0_mA_cm2", "mA/cm2"),
    ):
        dataset = channels.create_dataset(name, data=np.array([r[key] for r in rows]))
        if units:
            dataset.attrs["units"] = units


def export_nxstxm(catalog: Catalog, uid: str, path: str | Path) -> Path:
    """Write an image run or a whole operando series as NXstxm (NeXus HDF5).

    One NXstxm entry per particle and imaging pass (``entry0001``, ...) with its own start
    and end time (on the beamline clock), the counts, dwell (``count_time``) and incident
    counts (``control``, shaped like the data), the electrochemistry of that pass as NXsensor
    logs in ``sample/electrochemistry``, and its analysis as an NXprocess (``analysis``: the
    Li fraction map on the stage axes and the channels' x_surf, j_Ch and j0, each an NXdata);
    for an operando series a last entry, ``series``, holds the whole voltage, current and
    charge record. ``path`` must end in one of
    ``NXSTXM_SUFFIXES``, the names MANTiS opens.
    """
    path = Path(path)
    if path.suffix.lower() not in NXSTXM_SUFFIXES:
        raise ValueError(
            f"NXstxm files are named {', '.join(NXSTXM_SUFFIXES)} (what MANTiS opens), "
            f"not {path.name}"
        )
    image_sets, ec, start, offset, frames = _collect(catalog, uid)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")  # renamed into place when complete
    try:
        _write_nxstxm(partial, image_sets, ec, start, offset, frames)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def _write_nxstxm(path: Path, image_sets, ec: dict, start: dict, offset: float, frames) -> None:
    with h5py.File(path, "w") as nxfile:
        nxfile.attrs["default"] = "entry0001"
        nxfile.attrs["file_time"] = datetime.now(UTC).isoformat()
        nxfile.attrs["creator"] = "stxm-operando"
        for k, images in enumerate(image_sets, start=1):
            key = (series_of(images.run_start), particle_id_of(images.stream), images.frame_index)
            _write_entry(nxfile, f"entry{k:04d}", images, ec, offset, frames.get(key))
        if ec["time"].size:  # sorts after every entryNNNN, so readers meet images first
            entry = _group(nxfile, "series", "NXentry")
            entry["title"] = f"electrochemistry of {start.get('sample', '')}"
            entry["start_time"] = _iso(start["time"])
            sample = _group(entry, "sample", "NXsample")
            _write_logs(_group(sample, "electrochemistry", "NXenvironment"), ec, 0.0, offset)


def export_csv(catalog: Catalog, uid: str, directory: str | Path) -> list[Path]:
    """Write ``electrochemistry.csv``, ``frames.csv`` (per-frame particle statistics with
    the cell's voltage, current and charge then), ``channels.csv`` (every channel's x_surf,
    j_Ch and j0) and ``li_maps.csv`` (every particle pixel's Li fraction). Steps are numbered
    from 1, as the monitor numbers them; indices and steps are integers."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    analysis = OperandoAnalysis()
    replay(catalog, uid, analysis)
    ec = analysis.electrochemistry()
    ec_path = directory / "electrochemistry.csv"
    with open(ec_path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["index", "time_s", "voltage_V", "current_A", "charge_C", "step"])
        for index, time_s, voltage, current, charge, step in zip(
            *(ec[k] for k in ("index", "time", "voltage", "current", "charge", "step")),
            strict=True,
        ):
            writer.writerow([int(index), time_s, voltage, current, charge, int(step) + 1])
    frames_path = directory / "frames.csv"

    def cell_at(time_s: float, quantity: str) -> float:
        """The logged ``quantity`` at ``time_s`` (s), interpolated; NaN without a log."""
        if not len(ec["time"]):
            return float("nan")
        return float(np.interp(time_s, ec["time"], ec[quantity]))

    rows = [
        {
            "frame_index": f.frame_index,
            "particle_id": f.particle_id,
            "time_s": f.analysis.time_s,
            "step": f.protocol_step + 1,
            "direction": f.direction,
            "c_rate": f.c_rate,
            "voltage_V": f.voltage_V,
            "current_A": cell_at(f.analysis.time_s, "current"),
            "charge_C": cell_at(f.analysis.time_s, "charge"),
        }
        | f.statistics_row()
        for f in sorted(analysis.frames, key=lambda f: (f.frame_index, f.particle_id))
        if f.particle is not None
    ]
    with open(frames_path, "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["frame_index"])
        writer.writeheader()
        writer.writerows(rows)
    ordered = sorted(analysis.frames, key=lambda f: (f.frame_index, f.particle_id))
    channels_path = directory / "channels.csv"
    _write_table(channels_path, CHANNEL_ROW_FIELDS, [r for f in ordered for r in f.channel_rows()])
    maps_path = directory / "li_maps.csv"
    _write_table(maps_path, MAP_FIELDS, [r for f in ordered for r in _map_rows(f)])
    return [ec_path, frames_path, channels_path, maps_path]


MAP_FIELDS = ("frame_index", "particle_id", "time_s", "row", "column", "li_fraction")
"""li_maps.csv: the Li fraction of every particle pixel of every frame, by the pixel's row
and column in the frame's raster (NXstxm's ``analysis/li_fraction`` holds the same maps on
the stage axes)."""


def _map_rows(frame) -> list[dict]:
    rows, columns = np.nonzero(np.isfinite(frame.li_map))
    common = {
        "frame_index": frame.frame_index,
        "particle_id": frame.particle_id,
        "time_s": frame.analysis.time_s,
    }
    return [
        common | {"row": int(r), "column": int(c), "li_fraction": float(frame.li_map[r, c])}
        for r, c in zip(rows, columns, strict=True)
    ]


def _write_table(path: Path, fields, rows: list[dict]) -> None:
    with open(path, "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(fields), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
