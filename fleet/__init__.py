"""fleet: supervise fleets of AI coding agents running on remote hosts."""

import warnings

__version__ = "0.1.0"

# cryptography 46+ deprecates DSA, and asyncssh's import touches the DSA types, which prints five
# lines of warnings before every command's output. fleet never offers or accepts DSA keys; the
# warning says nothing a user can act on.
warnings.filterwarnings("ignore", message="DSA is deprecated", module=r"asyncssh(\.|$)")
