"""The pipeline's view of one recording over time: its state after every small block, and its events (for
``retrowalk replay`` and its plot)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .evaluate import PipelineFactory, default_pipeline
from .recording import Recording

__all__ = ["ReplayTrace", "replay"]


@dataclass(frozen=True, eq=False)
class ReplayTrace:
    """The pipeline's view of a recording over time, sampled after every small block (for plots).

    ``state`` maps each numeric ``Pipeline.state()`` key (``tilt_deg``, ``trunk_rate_dps``, ``steps``,
    ``is_walking`` ...) to an array aligned with ``t_s``.
    """

    t_s: np.ndarray
    state: Dict[str, np.ndarray]
    events: Tuple[Any, ...]


def replay(recording: Recording, settings: Any = None, block_s: float = 0.02,
           make_pipeline: Optional[PipelineFactory] = None, keep_state: bool = True) -> ReplayTrace:
    """Run one recording and keep the pipeline's state after each ``block_s`` block as well as its events.

    Small blocks give a fine trace; the events are the same as with the daemon's 0.1 s blocks because the
    pipeline gives the same events whatever the block size. ``keep_state=False`` keeps the events only (a
    long recording's per-block trace is only needed for a plot).
    """
    pipeline = (make_pipeline or default_pipeline)(recording, settings)
    events: List[Any] = []
    times: List[float] = []
    rows: List[Dict[str, Any]] = []
    for block in recording.blocks(block_s):
        events.extend(pipeline.process(block))
        if keep_state:
            times.append(float(block.t_s[-1]))
            rows.append(pipeline.state() if hasattr(pipeline, "state") else {})
    events.extend(pipeline.finish())
    keys = [k for k, v in (rows[0].items() if rows else ())
            if isinstance(v, (bool, int, float, np.bool_, np.integer, np.floating)) or v is None]
    state = {k: np.array([np.nan if row.get(k) is None else float(row.get(k)) for row in rows]) for k in keys}
    return ReplayTrace(np.array(times), state, tuple(events))
