"""The attention / position / BERT family: attention cores, Performer, RealFormer, positions,
entropy-invariant scale, Taylor softmax, residual/NTK parameterisation, a compact BERT and its
pretrained loader."""
