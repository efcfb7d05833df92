"""Transport: getting every event to the carer. The ``outbox`` stores and forwards (SQLite, or memory when the
card fails), ``mqtt`` is the one paho client, ``topics`` the wire contract, ``ha_discovery`` and ``retained``
what Home Assistant and late subscribers see, ``follower`` the carer's side."""
