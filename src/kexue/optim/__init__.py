"""Optimiser wrappers, gradient clipping and derivative-free search."""
