"""Serve the AI clone: `python app.py` (host and port: GRADIO_SERVER_NAME / GRADIO_SERVER_PORT)."""

import sys

from clone.errors import CloneError
from clone.ui import create_app, launch_options

if __name__ == "__main__":
    try:
        app = create_app()
    except CloneError as exc:
        sys.exit(f"Error: {exc}")
    app.launch(**launch_options(app))
