"""Pure numpy analysis: frames to optical density, Li fraction, drift, channels and kinetics."""
