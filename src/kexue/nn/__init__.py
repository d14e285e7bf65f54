"""Functional ops and ``nn.Module`` s: attention variants, softmax variants, smooth activations."""
