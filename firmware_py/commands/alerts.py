"""retrowalk alerts — not built yet (see the issue that owns it)."""
HELP = "alerts (not built yet)"


def add_arguments(parser):
    pass


def run(args):
    raise SystemExit("retrowalk alerts is not built yet")
