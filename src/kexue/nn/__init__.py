"""Generic layers: smooth activations, initialisation, the variational information bottleneck."""
