"""``python -m partflow_cascadio``: serve the plugin (see server.py)."""

from partflow_cascadio.server import run

if __name__ == "__main__":
    run()
