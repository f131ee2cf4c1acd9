"""Pure numpy/scipy science of the simulated beamline: spectra, optics, particles, electrode.

Nothing here imports bluesky, ophyd or Qt.
"""
