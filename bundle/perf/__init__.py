"""Measurement: the bench, profiling, the model-size trade-off, and their shared timing code."""
