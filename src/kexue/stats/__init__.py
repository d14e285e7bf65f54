"""Transformations and statistics of probability distributions."""
