"""The helper that runs ON each host: stdlib-only Python 3.8+, uploaded over SFTP.

Every module here must import only the standard library and its siblings (relatively), because
the package is shipped to hosts as a zipapp named by the hash of its sources.
"""
