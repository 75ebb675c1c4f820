class LoadError(Exception):
    """A file that cannot be loaded at all. The message names the file and says what to do."""
