"""Distances between distributions, random projections and optimal transport."""
