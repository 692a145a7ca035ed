"""Sequence tagging (NER, POS): tag schemes and entity-level metrics."""
