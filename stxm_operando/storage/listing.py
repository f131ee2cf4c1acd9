"""A catalog's runs as a table for people: what ``stxm-operando runs`` prints."""

from collections.abc import Sequence
from datetime import datetime

COLUMNS = ("started", "scan", "uid", "plan", "sample", "protocol", "status")


def run_row(summary: dict) -> tuple[str, ...]:
    """One run's row: start time (local, to the second), scan id, uid (8 characters), plan
    name, sample, its protocol (steps and C-rates of an operando or electrochemistry run; a
    step's label and C-rate for an image run) and its exit status (``running or cut off``
    without a stop document).

    Examples
    --------
    >>> start = {"time": 0.0, "scan_id": 3, "uid": "899b6668-c55c", "plan_name": "operando",
    ...          "sample": "LFP", "protocol": [{}, {}], "c_rates": [-4.0, 4.0]}
    >>> run_row({"start": start, "stop": {"exit_status": "success"}})[1:]
    ('3', '899b6668', 'operando', 'LFP', '2 steps, -4C / 4C', 'success')
    """
    start, stop = summary["start"], summary["stop"]
    if "protocol" in start:
        rates = " / ".join(f"{rate:g}C" for rate in start.get("c_rates", []))
        protocol = f"{len(start['protocol'])} steps" + (f", {rates}" if rates else "")
    elif "step_label" in start:
        protocol = f"step {int(start.get('protocol_step', 0)) + 1}: {start['step_label']}"
    else:
        protocol = ""
    return (
        datetime.fromtimestamp(start["time"]).strftime("%Y-%m-%d %H:%M:%S"),
        str(start.get("scan_id", "")),
        start["uid"][:8],
        start.get("plan_name", ""),
        str(start.get("sample", "")),
        protocol,
        stop.get("exit_status", "") if stop else "running or cut off",
    )


def run_table(summaries: Sequence[dict]) -> str:
    """The runs as aligned columns under a header (``COLUMNS``), oldest first."""
    rows = [COLUMNS, *(run_row(s) for s in summaries)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
