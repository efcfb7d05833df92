"""How urgent each event is for the wearer: the one order the buzzer, the carer's state and the carer's terminal
follow.

stumble < loss_of_balance < fall < help_needed = sos: an alarm pre-empts a lower one at once and never yields to
one (a stumble chirp never swallows a fall), and ``help_needed`` and ``sos`` (someone must come) come first in
the carer's terminal. The wearer's state (``wearer_state``) folds loss of balance and fall into one ``alarm``
state and puts ``sos`` just above ``help_needed``; it never contradicts this order (a test keeps it so).
"""
from __future__ import annotations

from ..events import FALL, HELP_NEEDED, LOSS_OF_BALANCE, SHUTTING_DOWN, SOS, STUMBLE
from .alarm_patterns import TEST_ALARM

#: the wearer's alarms, least urgent first; alarms in one tuple rank equal (the newer pre-empts the older)
ALARM_ORDER = ((STUMBLE,), (LOSS_OF_BALANCE,), (FALL,), (HELP_NEEDED, SOS))

#: events after which someone must come: the most urgent rank
CALLS_FOR_HELP = frozenset(ALARM_ORDER[-1])

#: higher pre-empts lower, lower never pre-empts higher; the test alarm yields to every alarm, and the monitor
#: going off is the last thing it can say
PRIORITY = {TEST_ALARM: 0, **{kind: rank for rank, kinds in enumerate(ALARM_ORDER, 1) for kind in kinds},
            SHUTTING_DOWN: len(ALARM_ORDER) + 1}

#: alarms that stop on their own: cooldown and rate limit apply (the others sound until cancelled), and the
#: carer's state they set ends on its own too
SELF_ENDING = frozenset({STUMBLE, LOSS_OF_BALANCE})

#: alarms that ``recovered`` (up and moving again) ends. Only a cancel closes a fall, help_needed or sos: getting
#: up proves neither that the wearer is unhurt nor that it was they who got up, so a fall's tone and cancel
#: window run on and the carer's state (``wearer_state``) stays an alarm until the button, or help_needed.
ENDED_BY_RECOVERED = frozenset({LOSS_OF_BALANCE})
