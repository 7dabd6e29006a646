"""The one exception the CLI turns into a clear message (never a traceback)."""


class BundleError(Exception):
    """A problem the user can fix: bad params, a version mismatch, an unreachable endpoint."""
