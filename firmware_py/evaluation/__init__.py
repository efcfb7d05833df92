"""Evaluation: recordings in (``recording``, ``datasets``, ``sisfall``, ``csv_samples``), the transforms a
stranger's device would apply (``transforms``), running them through the pipeline (``evaluate``, ``replay``),
the figures (``metrics``, ``plot``), and the synthetic traces for tests and the demo (``scenarios`` and
``segments``, always labelled synthetic)."""
