"""retrowalk selftest — not built yet (see the issue that owns it)."""
HELP = "selftest (not built yet)"


def add_arguments(parser):
    pass


def run(args):
    raise SystemExit("retrowalk selftest is not built yet")
