"""retrowalk replay — not built yet (see the issue that owns it)."""
HELP = "replay (not built yet)"


def add_arguments(parser):
    pass


def run(args):
    raise SystemExit("retrowalk replay is not built yet")
