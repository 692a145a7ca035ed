"""Explanations: which tokens pushed a prediction, by integrated gradients (with exact shares for the
linear parts) and by occlusion; offsets into the text as given."""
