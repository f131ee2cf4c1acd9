"""Export stored runs: NXstxm HDF5 (NeXus) with electrochemistry as NXlog, and CSV tables."""

import csv
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np

from .live_callbacks import OperandoAnalysis
from .live_callbacks.operando import ElectrochemistryLog
from .replay import replay, replay_documents
from .storage import Catalog

LOG_QUANTITIES = (("voltage", "V"), ("current", "A"), ("charge", "C"))


@dataclass
class ImageSet:
    """The images of one particle in one imaging pass, one per energy."""

    run_start: dict
    stream: str
    frame_index: int
    events: list[dict] = field(default_factory=list)


def _collect(catalog: Catalog, uid: str) -> tuple[list[ImageSet], dict[str, np.ndarray], dict]:
    starts, streams, image_sets = {}, {}, {}
    electrochemistry = ElectrochemistryLog()
    for name, doc in replay_documents(catalog, uid):
        if name == "start":
            starts[doc["uid"]] = doc
        elif name == "descriptor":
            streams[doc["uid"]] = (doc["run_start"], doc.get("name", "primary"))
        elif name == "event":
            run, stream = streams[doc["descriptor"]]
            data = doc["data"]
            if stream == "electrochemistry":
                electrochemistry.add(starts[run].get("series_id", run), data)
            elif "raster_image" in data:
                key = (run, stream, int(data.get("frame_index", 0)))
                image_sets.setdefault(key, ImageSet(starts[run], stream, key[2]))
                image_sets[key].events.append(data)
    return list(image_sets.values()), electrochemistry.arrays(), starts[uid]


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


def _group(parent: h5py.Group, name: str, nx_class: str) -> h5py.Group:
    group = parent.create_group(name)
    group.attrs["NX_class"] = nx_class
    return group


def _write_logs(parent: h5py.Group, ec: dict[str, np.ndarray], window=None) -> None:
    keep = (
        np.ones(ec["time"].shape, bool)
        if window is None
        else ((ec["time"] >= window[0]) & (ec["time"] <= window[1]))
    )
    for quantity, unit in LOG_QUANTITIES:
        log = _group(parent, quantity, "NXlog")
        log.create_dataset("time", data=ec["time"][keep]).attrs["units"] = "s"
        log.create_dataset("value", data=ec[quantity][keep]).attrs["units"] = unit


def _write_entry(nxfile: h5py.File, name: str, images: ImageSet, ec: dict) -> None:
    events = sorted(images.events, key=lambda e: e["raster_energy"])
    start = images.run_start
    data = np.stack([np.asarray(e["raster_image"]) for e in events])
    xs = np.stack([np.asarray(e["raster_x_positions"], dtype=float) for e in events])
    ys = np.stack([np.asarray(e["raster_y_positions"], dtype=float) for e in events])
    energies = np.array([float(e["raster_energy"]) for e in events])
    entry = _group(nxfile, name, "NXentry")
    entry["definition"] = "NXstxm"
    entry["title"] = (
        f"{start.get('sample', '')} {images.stream} frame {images.frame_index} "
        f"({start.get('plan_name', '')})"
    ).strip()
    entry["start_time"] = _iso(start["time"])
    entry["end_time"] = _iso(
        start["time"] + float(events[-1]["raster_end_time"]) - float(events[0]["raster_start_time"])
    )
    entry["experiment_identifier"] = start.get("series_id", start["uid"])
    instrument = _group(entry, "instrument", "NXinstrument")
    source = _group(instrument, "source", "NXsource")
    source["type"], source["name"], source["probe"] = "Synchrotron X-ray Source", "STXM", "x-ray"
    mono = _group(instrument, "monochromator", "NXmonochromator")
    mono.create_dataset("energy", data=energies).attrs["units"] = "eV"
    detector = _group(instrument, "detector", "NXdetector")
    detector.create_dataset("data", data=data, compression="gzip").attrs["units"] = "counts"
    for axis, positions in (("sample_x", xs), ("sample_y", ys)):
        group = _group(instrument, axis, "NXdetector")
        group.create_dataset("data", data=positions).attrs["units"] = "um"
    potentiostat = _group(instrument, "potentiostat", "NXcollection")
    _write_logs(
        potentiostat,
        ec,
        (float(events[0]["raster_start_time"]) - 1.0, float(events[-1]["raster_end_time"]) + 1.0),
    )
    sample = _group(entry, "sample", "NXsample")
    sample["name"] = str(start.get("sample", ""))
    sample.create_dataset("rotation_angle", data=0.0).attrs["units"] = "degree"
    control = _group(entry, "control", "NXmonitor")
    control.create_dataset("data", data=[float(e["raster_i0"]) for e in events])
    nxdata = _group(entry, "data", "NXdata")
    nxdata.attrs["signal"] = "data"
    nxdata.attrs["axes"] = ["energy", "sample_y", "sample_x"]
    nxdata["stxm_scan_type"] = "sample image stack" if len(events) > 1 else "sample image"
    nxdata["data"] = h5py.SoftLink(f"/{name}/instrument/detector/data")
    nxdata["energy"] = h5py.SoftLink(f"/{name}/instrument/monochromator/energy")
    nxdata.create_dataset("sample_x", data=xs.mean(axis=(0, 1))).attrs["units"] = "um"
    nxdata.create_dataset("sample_y", data=ys.mean(axis=(0, 2))).attrs["units"] = "um"


def export_nxstxm(catalog: Catalog, uid: str, path: str | Path) -> Path:
    """Write an image run or a whole operando series as NXstxm HDF5.

    One NXentry per particle and imaging pass (``entry0001``, ...), each with its
    electrochemistry as NXlog groups; for an operando series an extra ``electrochemistry``
    entry holds the whole voltage, current and charge record.
    """
    image_sets, ec, start = _collect(catalog, uid)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")  # renamed into place when complete
    try:
        _write_nxstxm(partial, image_sets, ec, start)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def _write_nxstxm(path: Path, image_sets, ec: dict, start: dict) -> None:
    with h5py.File(path, "w") as nxfile:
        nxfile.attrs["default"] = "entry0001"
        nxfile.attrs["file_time"] = datetime.now(UTC).isoformat()
        nxfile.attrs["creator"] = "stxm-operando"
        for k, images in enumerate(image_sets, start=1):
            _write_entry(nxfile, f"entry{k:04d}", images, ec)
        if ec["time"].size:
            entry = _group(nxfile, "electrochemistry", "NXentry")
            entry["title"] = f"electrochemistry of {start.get('sample', '')}"
            entry["start_time"] = _iso(start["time"])
            _write_logs(_group(entry, "potentiostat", "NXcollection"), ec)


def export_csv(catalog: Catalog, uid: str, directory: str | Path) -> list[Path]:
    """Write ``electrochemistry.csv`` and ``frames.csv`` (per-frame particle statistics)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    analysis = OperandoAnalysis()
    replay(catalog, uid, analysis)
    ec = analysis.electrochemistry()
    ec_path = directory / "electrochemistry.csv"
    with open(ec_path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["index", "time_s", "voltage_V", "current_A", "charge_C", "step"])
        writer.writerows(
            zip(
                *(ec[k] for k in ("index", "time", "voltage", "current", "charge", "step")),
                strict=True,
            )
        )
    frames_path = directory / "frames.csv"
    rows = [
        {
            "frame_index": f.frame_index,
            "particle_id": f.particle_id,
            "time_s": f.analysis.time_s,
            "protocol_step": f.protocol_step,
            "direction": f.direction,
            "c_rate": f.c_rate,
        }
        | f.statistics_row()
        for f in analysis.frames
        if f.particle is not None
    ]
    with open(frames_path, "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["frame_index"])
        writer.writeheader()
        writer.writerows(rows)
    return [ec_path, frames_path]
