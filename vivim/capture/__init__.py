"""Capture: detect the format of an input, parse it into domain values, store them."""
