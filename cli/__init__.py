"""The ``doppel`` command line."""
