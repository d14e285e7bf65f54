"""scikit-learn-style estimators and trainable systems."""
