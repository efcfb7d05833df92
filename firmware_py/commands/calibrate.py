"""retrowalk calibrate — not built yet (see the issue that owns it)."""
HELP = "calibrate (not built yet)"


def add_arguments(parser):
    pass


def run(args):
    raise SystemExit("retrowalk calibrate is not built yet")
