"""Bluesky plans: imaging, electrochemistry steps and the operando protocol."""
