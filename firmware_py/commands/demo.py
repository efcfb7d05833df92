"""retrowalk demo — not built yet (see the issue that owns it)."""
HELP = "demo (not built yet)"


def add_arguments(parser):
    pass


def run(args):
    raise SystemExit("retrowalk demo is not built yet")
