"""The paper's evaluation protocol (``biohuman evaluate``, ``scripts/evaluate.py``).

``window_data`` (a split's windows and the model inputs and masks every method is evaluated on),
``protocol`` (predictors, metrics overall / per source / per muscle group), ``report`` (tables,
per-muscle CSV, activation curves, the comparison report), ``command`` (the CLI).
"""
