"""retrowalk run — not built yet (see the issue that owns it)."""
HELP = "run (not built yet)"


def add_arguments(parser):
    pass


def run(args):
    raise SystemExit("retrowalk run is not built yet")
