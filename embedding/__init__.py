"""Extraction, encoding, training, evaluation and the vector index. Imports torch lazily."""
