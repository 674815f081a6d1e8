"""The real-edit benchmark: the same functions in two releases of public libraries.

A function at an old release and at a later one is a copy changed the way real code changes
(type hints, new parameters, changed branches, renamed helpers). Each library becomes a git
repository whose base is the old release and whose head adds the new versions in new files, plus
functions that are genuinely new; ``doppel review`` is then scored on which copies it catches and
which new functions it wrongly flags. Modules, in the order a run uses them:

- ``manifest``: the libraries (``libraries.json``), their versions and their split;
- ``fetch``: downloads releases by name from PyPI, npm or Debian into a cache, lists their source;
- ``match``: pairs old and new functions, token 3-gram Jaccard, negatives (pure);
- ``layout``: writes head files that stay valid code, checks them with the extractor, builds the repo;
- ``score``: scores a review's JSON against the truth, the legacy verdict, the tables (pure);
- ``synthetic``: the synthetic mode: clones of the old release's functions on the same base.
"""
