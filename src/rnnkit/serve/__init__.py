"""Serving bundles over HTTP: the app, its batching queue and what each kind of model answers."""
