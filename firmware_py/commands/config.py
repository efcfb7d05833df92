"""retrowalk config — not built yet (see the issue that owns it)."""
HELP = "config (not built yet)"


def add_arguments(parser):
    pass


def run(args):
    raise SystemExit("retrowalk config is not built yet")
