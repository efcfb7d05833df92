"""One picture of a replay: signals, tilt, steps and events on one time axis, so a person can see why a
detector fired or stayed quiet. matplotlib is an optional extra (``pip install 'retrowalk[plot]'``) and is
imported only here, only when a plot is asked for.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Union

import numpy as np

from ..errors import RetrowalkError

__all__ = ["require_matplotlib", "plot_replay", "EVENT_COLOURS"]

EVENT_COLOURS = {
    "stumble": "tab:orange",
    "loss_of_balance": "tab:red",
    "fall": "darkred",
    "help_needed": "purple",
    "recovered": "tab:green",
    "session_summary": "grey",
}


def require_matplotlib() -> Any:
    """matplotlib.pyplot on the file-only Agg backend, or a clear error saying how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise RetrowalkError("--plot needs matplotlib, which is not installed; install it with "
                             "pip install 'retrowalk[plot]' (or: pip install matplotlib)") from None
    matplotlib.use("Agg")  # no display on a Pi or in CI; we only write files
    import matplotlib.pyplot as plt

    return plt


def plot_replay(out: Union[str, Path], recording: Any, trace: Any) -> Path:
    """Write a PNG with four stacked panels sharing the time axis.

    Parameters
    ----------
    out : path
        PNG to write.
    recording : datasets.Recording
        The samples (drawn in the body frame when the mounting is known).
    trace : replay.ReplayTrace
        The pipeline's state over time and its events.
    """
    plt = require_matplotlib()
    out = Path(out)
    accel, gyro, frame = recording.accel_g, recording.gyro_dps, "sensor"
    if recording.body_from_sensor is not None:
        rotation = np.asarray(recording.body_from_sensor, dtype=float)
        accel, gyro, frame = accel @ rotation.T, gyro @ rotation.T, "body"
    t = recording.t_s
    names = ("x fwd", "y left", "z up") if frame == "body" else ("x", "y", "z")
    fig, axes = plt.subplots(4, 1, sharex=True, figsize=(12, 9), constrained_layout=True)
    title = recording.name + (" — SYNTHETIC" if recording.synthetic else "")
    fig.suptitle(f"{title} ({recording.kind}, {recording.activity})")

    ax = axes[0]
    for i, name in enumerate(names):
        ax.plot(t, accel[:, i], lw=0.6, label=name)
    ax.plot(t, np.linalg.norm(accel, axis=1), lw=0.9, color="black", label="|a|")
    ax.set_ylabel(f"accel (g, {frame})")
    ax.legend(loc="upper right", fontsize=7, ncol=4)

    ax = axes[1]
    for i, name in enumerate(names):
        ax.plot(t, gyro[:, i], lw=0.6, label=name)
    ax.set_ylabel(f"gyro (°/s, {frame})")
    ax.legend(loc="upper right", fontsize=7, ncol=3)

    ax = axes[2]
    state = trace.state
    if "tilt_deg" in state:
        ax.plot(trace.t_s, state["tilt_deg"], color="tab:blue", label="tilt from vertical (°)")
    if "trunk_rate_dps" in state:
        ax.plot(trace.t_s, state["trunk_rate_dps"], color="tab:gray", lw=0.7, label="trunk rate (°/s)")
    ax.set_ylabel("trunk")
    ax.legend(loc="upper right", fontsize=7)

    ax = axes[3]
    if "steps" in state:
        ax.step(trace.t_s, state["steps"], where="post", color="tab:green", label="steps")
    if "is_walking" in state:
        walking = state["is_walking"] > 0.5
        top = max(1.0, float(np.nanmax(state["steps"])) if "steps" in state and len(state["steps"]) else 1.0)
        ax.fill_between(trace.t_s, 0, top, where=walking, step="post", color="tab:green", alpha=0.12,
                        label="walking")
    ax.set_ylabel("gait")
    ax.set_xlabel("time (s)")
    ax.legend(loc="upper left", fontsize=7)

    for event in trace.events:
        if event.type == "session_summary":
            continue
        colour = EVENT_COLOURS.get(event.type, "black")
        for ax in axes:
            ax.axvline(event.t_detect_s, color=colour, lw=1.2)
            if event.t_onset_s < event.t_detect_s:
                ax.axvspan(event.t_onset_s, event.t_detect_s, color=colour, alpha=0.12)
        axes[0].annotate(event.type, (event.t_detect_s, 1.0), xycoords=("data", "axes fraction"),
                         rotation=90, va="top", ha="right", fontsize=7, color=colour)
    if recording.impact_t_s is not None:
        for ax in axes:
            ax.axvline(recording.impact_t_s, color="black", ls="--", lw=0.8)
        axes[0].annotate("impact", (recording.impact_t_s, 0.0), xycoords=("data", "axes fraction"),
                         rotation=90, va="bottom", ha="left", fontsize=7)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
