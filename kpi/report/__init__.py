"""Reports: Vietnamese formats, offline charts, the Papermill runner."""
