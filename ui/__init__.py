"""The local web UI (§11): ``tracker-service ui`` serves the store read-only in a browser.

:mod:`tracker.ui.app` builds the Starlette app, :mod:`tracker.ui.server` runs it under
uvicorn. Nothing is imported here: ``import tracker`` never loads starlette or uvicorn.
"""
