"""retrowalk record — not built yet (see the issue that owns it)."""
HELP = "record (not built yet)"


def add_arguments(parser):
    pass


def run(args):
    raise SystemExit("retrowalk record is not built yet")
