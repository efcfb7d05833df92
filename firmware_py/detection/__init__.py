"""Detection: from raw sensor samples to events, pure and replayable.

Samples are calibrated and turned into the body frame (``calibration``, ``orientation``, ``mounting``,
``heading``, ``frames``), stepped into gait (``gait``), and scored by the event rules in ``detectors``;
``pipeline`` composes the stages. Time is the samples' own ``t_s``: nothing here reads a clock, logs or waits.
"""
