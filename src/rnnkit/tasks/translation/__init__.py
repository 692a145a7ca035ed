"""Translation: a bidirectional encoder, an attentive decoder, beam search (in progress: metrics)."""
