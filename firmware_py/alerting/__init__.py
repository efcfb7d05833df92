"""Alerting: what the wearer hears (``alerts``, ``alarm_patterns``, their ``alert_settings``) and the wearer's
state as a carer sees it (``wearer_state``). Needs neither the disk nor the network."""
