"""Losses and regularisers, each with a functional form and an ``nn.Module``."""
