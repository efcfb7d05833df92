"""Evaluation: recordings in (``datasets``, ``csv_samples``), the transforms a stranger's device would apply
(``transforms``), the figures (``evaluate``, ``plot``), and the synthetic traces for tests and the demo
(``scenarios``, always labelled synthetic)."""
