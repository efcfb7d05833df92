"""``loss_of_balance``: a fall starting, recognised before the impact.

A fall is the waist going down while the trunk tips over; sitting down quickly, a jog's bounce and a
stumble share pieces of that picture, and fixed thresholds on tilt, trunk rate and vertical speed could
not tell them apart early enough (see docs/detection.md). So two rules, either of which warns:

* **backward tip** (a rule, because backward falls matter most here and become unrecoverable at a much
  smaller angle -- about 10° of trunk extension against 24° forwards -- while slow backward slips stay
  under the classic 140 °/s): lean back > ``backward_tilt_deg``, tipping back faster than
  ``backward_rate_dps`` and going down faster than ``backward_speed_m_s``, within ``upright_within_s``
  of being upright and not while running;
* **pre-impact model**: while the waist is going down (and, until the heading is known, the trunk has not
  come back towards upright by :data:`GETTING_UP_DEG` since it started: getting up is not a fall starting),
  a boosted-tree score of the frame's features
  (``fall_features.py``: tilt, rates, vertical speed and acceleration, how long and how far the waist
  has been descending, what the wearer was doing just before) above ``score_threshold``. The model is a
  data file (``pre_impact_model.json``, or ``model_file``) trained by ``scripts/train_pre_impact.py``
  with subjects left out, so its figures are measured on people it never saw; raising
  ``score_threshold`` trades warnings for fewer false alarms.

The event's ``t_onset_s`` is when the waist started to go down in this excursion; ``lead_s`` to the
impact is not known yet when it fires: the fall detector reports it in the ``fall`` event.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Tuple

from firmware_py.detection.detectors.fall_features import DIRECTION_INDEX, FEATURE_NAMES, FallFeatures
from firmware_py.detection.detectors.motion import Motion
from firmware_py.detection.detectors.trees import DEFAULT_MODEL_PATH, ModelError, TreeEnsemble, load_model

#: a descent during which the trunk came back this much towards upright (°) is someone getting up, not a fall
#: starting (a sit-up's or a bend's return is 20-55° by then). A fall's trunk can come back a little as the
#: waist first drops (SisFall's falls from a chair): 10° cost 17 of its uncalibrated warnings, 20° one
GETTING_UP_DEG = 20.0

#: the model for a wearer whose heading is not known yet: trained with the direction features zeroed
GRAVITY_ONLY_MODEL_PATH = DEFAULT_MODEL_PATH.with_name("pre_impact_model_gravity_only.json")
from firmware_py.errors import ConfigError
from firmware_py.events import LOSS_OF_BALANCE, Event
from firmware_py.settings_checks import require_positive


@dataclass(frozen=True)
class BalanceSettings:
    """Settings of the loss-of-balance detector (see the module docstring). Angles are from the wearer's
    upright reference, speeds are of the waist going down.

    Attributes
    ----------
    score_threshold : pre-impact model score (log-odds) above which a descent is a fall starting; higher
        means fewer warnings and fewer false alarms
    model_file : the pre-impact model file (``scripts/train_pre_impact.py`` makes one); empty for the one
        shipped with retrowalk; relative to the config file's folder
    gravity_only_model_file : the model used while the heading is unknown (mounting "gravity only"; made by
        ``scripts/train_pre_impact.py --direction-free``); empty for the shipped one
    gravity_only_score_threshold : ``score_threshold`` of that model; 4.0 warns more falls of an uncalibrated
        wearer (SisFall 78 % instead of 67 %) at the cost of specificity at 20 Hz (UMAFall 90.5 % instead of
        94.6 %)
    backward_tilt_deg : lean back beyond which a backward tip counts (balance is lost at ~10° backwards)
    backward_rate_dps : backward tipping rate that counts (slow backward slips stay under ~140 °/s)
    backward_speed_m_s : downward waist speed that counts with a backward tip
    upright_deg : tilt under which the wearer counts as upright
    upright_within_s : a backward tip must start within this long of being upright
    running_accel_g : typical step peak |a| above which the wearer is running (a runner's trunk swings
        back and bounces down like a backward tip, so the rule is off then)
    refractory_s : at most one warning in this long
    """

    score_threshold: float = 4.5
    model_file: str = ""
    gravity_only_model_file: str = ""
    gravity_only_score_threshold: float = 4.5
    backward_tilt_deg: float = 16.0
    backward_rate_dps: float = 60.0
    backward_speed_m_s: float = 0.6
    upright_deg: float = 35.0
    upright_within_s: float = 2.0
    running_accel_g: float = 2.3
    refractory_s: float = 3.0

    def __post_init__(self) -> None:
        for name in ("model_file", "gravity_only_model_file"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"balance.{name} = {getattr(self, name)!r} is not allowed; use a file path or \"\"")
        for name in ("score_threshold", "gravity_only_score_threshold"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value)):
                raise ValueError(f"balance.{name} = {value!r} is not allowed; use a number")
        require_positive(self, "backward_tilt_deg", "backward_rate_dps", "backward_speed_m_s", "upright_deg",
                         "upright_within_s", "running_accel_g", "refractory_s", prefix="balance.")


def load_model_for(settings: BalanceSettings) -> TreeEnsemble:
    """The pre-impact model the settings name (the shipped one by default), read once by whoever builds
    pipelines; a file that is not a model for this retrowalk is a :class:`ConfigError` naming it."""
    return _load(settings.model_file or None, "model_file")


def load_gravity_only_model_for(settings: BalanceSettings) -> TreeEnsemble:
    """The model for a wearer whose heading is not known yet (``gravity_only_model_file``)."""
    return _load(settings.gravity_only_model_file or GRAVITY_ONLY_MODEL_PATH, "gravity_only_model_file")


def _load(path, key: str) -> TreeEnsemble:
    try:
        return load_model(path, FEATURE_NAMES)
    except ModelError as exc:
        raise ConfigError(f"[detection.balance] {key}: {exc}") from None


class BalanceDetector:
    """Streaming loss-of-balance detector; see the module docstring. :meth:`step` once per frame.

    ``model`` replaces the one named by the settings (tests, training). Set ``feature_log`` to a list to
    collect ``(t_s, features)`` of every frame (what ``scripts/train_pre_impact.py`` learns from).
    """

    def __init__(self, settings: BalanceSettings = BalanceSettings(), model: Optional[TreeEnsemble] = None,
                 gravity_only_model: Optional[TreeEnsemble] = None) -> None:
        self.settings = settings
        self.model = model if model is not None else load_model_for(settings)
        self._gravity_only_model = gravity_only_model     # read when first needed (most wearers never do)
        self.features = FallFeatures(settings.upright_deg)
        self.feature_log: Optional[List[Tuple[float, List[float]]]] = None
        self.last_fired_t = -math.inf
        self._going_down_since = math.nan

    def step(self, mo: Motion) -> Optional[Event]:
        s = self.settings
        t = mo.t_s
        x = self.features.update(mo)
        if self.feature_log is not None:
            self.feature_log.append((t, x))
        speed = mo.vertical_speed_m_s
        if speed < -0.3:
            if self._going_down_since != self._going_down_since:    # NaN: a new descent
                self._going_down_since = t
        else:
            self._going_down_since = math.nan
        if t - self.last_fired_t < s.refractory_s or not self.features.is_descending:
            return None
        score = math.nan
        # the rule, like the model, waits until what the wearer was doing is known (a stream that starts
        # mid-jog has no upright or running state yet)
        if (mo.heading_known and self.features.is_warm and t - self.features.upright_t <= s.upright_within_s
                and mo.step_accel_g <= s.running_accel_g
                and mo.lean_back_deg > s.backward_tilt_deg and mo.back_rate_dps > s.backward_rate_dps
                and speed < -s.backward_speed_m_s):
            why = "backward_tip"
        elif self.features.is_warm and math.isfinite(sum(x)):   # a NaN would take an arbitrary branch
            if mo.heading_known:
                score, threshold = self.model.score(x), s.score_threshold
            elif self.features.descent_tilt_deg < -GETTING_UP_DEG:
                # the trunk came back towards upright while the waist went down: someone getting up from a
                # bend, a bed or a chair (whose waist the vertical speed may read as going down), which the
                # model without the heading took for a fall starting (UMAFall uncalibrated: 4 of 9 false
                # alarms). With the heading the model sees which way the trunk turns and warns such
                # descents when they are falls (SisFall F10, falling while sitting down), so it is asked.
                return None
            else:
                score, threshold = self._score_without_heading(x), s.gravity_only_score_threshold
            if not score > threshold:
                return None
            why = "model"
        else:
            return None
        self.last_fired_t = t
        onset = self._going_down_since if self._going_down_since == self._going_down_since else t
        features = {
            "trigger": why,
            "direction": mo.direction,
            "tilt_deg": round(mo.tilt_deg, 1),
            "lean_back_deg": round(mo.lean_back_deg, 1),
            "trunk_rate_dps": round(mo.tilt_rate_dps, 1),
            "vertical_speed_m_s": round(speed, 2),
            "descent_s": round(self.features.descent_s, 2),
            "accel_low_g": round(mo.accel_low_g, 2),
        }
        if score == score:
            features["score"] = round(score, 2)
        return Event(LOSS_OF_BALANCE, t_onset_s=onset, t_detect_s=t, features=features)

    def _score_without_heading(self, x: List[float]) -> float:
        if self._gravity_only_model is None:
            self._gravity_only_model = load_gravity_only_model_for(self.settings)
        x = list(x)
        for i in DIRECTION_INDEX:
            x[i] = 0.0
        return self._gravity_only_model.score(x)
