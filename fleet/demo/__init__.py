"""`fleet demo`: a working fleet in seconds, with nothing to set up and nothing left behind.

An SSH server inside this process (asyncssh, 127.0.0.1, ephemeral ports, fresh keys) presents
three hosts whose "machines" are directories of a temporary sandbox; the real remote helper,
real tmux and real git run behind it, and scripted demo agents work on small throwaway repos.
fleet reaches them exactly like any other host: through its ssh config, with the host keys
pinned in a known_hosts file. Nothing touches ~/.ssh, ~/.fleet or the person's own tmux.

- fleet.demo.sandbox: the directory tree, keys, repos, ssh config and fleet.toml
- fleet.demo.server: the in-process SSH server
- fleet.demo.agents: the scripted demo agent (one stdlib script)
- fleet.demo.run: start_demo() / Demo.close(), and the `fleet demo` command
"""
