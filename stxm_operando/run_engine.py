"""One wiring of a RunEngine to a beamline, a catalog and the live analysis, used by the
IPython session, the queue server's startup, the demo and the tests."""

from bluesky import RunEngine
from bluesky.utils import ProgressBarManager

from .devices import Beamline
from .live_callbacks import ThreadedCallback
from .live_callbacks.report import ImageReporter, ProtocolReporter
from .plans import switch_off_on_halt


def make_run_engine(
    beamline: Beamline,
    writer=None,
    *,
    catalog=None,
    progress: bool = False,
    bars: bool = True,
    returns_result: bool = True,
    **run_engine_options,
) -> RunEngine:
    """A RunEngine whose plans return their results (``call_returns_result``; not with
    ``returns_result`` False, as a queue server's worker wants: it reports what the call
    returns and cannot send plan results such as ROIs), that opens
        the cell's circuit the moment it halts (``switch_off_on_halt``: a halt skips every
        plan's cleanup), and that stores every document through ``writer`` (e.g.
        ``Catalog.writer()``) before any other callback sees it. With ``catalog`` (the one the
        writer stores into) scan ids go on from the catalog's largest, so they stay unique
        across sessions. ``progress`` shows bluesky's progress bars for moves and holds, and
        prints each protocol step's start and end and the images as they come in, with the time
        elapsed and left (``ProtocolReporter``, ``ImageReporter``; ``bars`` False: the lines only,
    as for a queue server's console, which keeps lines, not redrawn bars);
        ``run_engine_options`` go to ``RunEngine`` (e.g. ``context_managers=[]`` off the main
        thread).
    """
    if catalog is not None:
        # a lambda: a session's catalog may still be opening (its first run waits for it)
        run_engine_options.setdefault("scan_id_source", lambda md: catalog.next_scan_id(md))
    run_engine = RunEngine({}, call_returns_result=returns_result, **run_engine_options)
    switch_off_on_halt(run_engine, beamline)
    if progress:
        if bars:
            run_engine.waiting_hook = ProgressBarManager()
        run_engine.subscribe(ProtocolReporter())
        run_engine.subscribe(ImageReporter())
    if writer is not None:
        run_engine.subscribe(writer)
    return run_engine


def analyse_off_the_run_engine(run_engine: RunEngine, analysis, name: str = "analysis"):
    """Subscribe ``analysis`` on a thread of its own (``ThreadedCallback``): a slow or failing
    analysis never holds up or stops an acquisition. Returns the threaded callback (its
    ``join()`` waits until everything so far is analysed)."""
    threaded = ThreadedCallback(analysis, name=name)
    run_engine.subscribe(threaded)
    return threaded
