"""Bluesky callbacks that turn documents into Li maps, rate maps and j_Ch via ``analysis``."""
