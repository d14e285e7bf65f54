"""Registered reproductions, one module per technique (see :mod:`kexue.experiments.base`)."""
