"""retrowalk evaluate — not built yet (see the issue that owns it)."""
HELP = "evaluate (not built yet)"


def add_arguments(parser):
    pass


def run(args):
    raise SystemExit("retrowalk evaluate is not built yet")
