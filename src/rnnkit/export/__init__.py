"""Models for other runtimes: ONNX graphs of classifiers and taggers (``rnnkit export``)."""
