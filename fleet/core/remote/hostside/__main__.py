import sys

if sys.argv[1:2] == ["hook"]:
    # An agent's hook: as little imported as can be, it runs at every tool call.
    from .signals import main as hook

    sys.exit(hook(sys.argv[2:]))

from .main import main

sys.exit(main(sys.argv[1:]))
