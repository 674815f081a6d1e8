"""Repository-adaptive LoRA adapters: pair mining (``pairs``, ``mining``; clones
from ``embedding.clones``), the loss
(``loss``, ``distributed``, ``batching``), the loop (``trainer``), settings (``config``) and the
report (``report``). Evaluation, calibration and the registry live beside this package."""
