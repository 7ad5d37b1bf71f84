"""What the server launchers (moto_s3.py, gcs_emulator.py) share: start the server once
its objects are loaded, say READY for the fixture that waits on it, and run until
interrupted or terminated."""

from __future__ import annotations

import time


def run_until_interrupted(stop) -> int:
    """Sleeps until interrupted (or terminated), then calls ``stop``; the exit status."""
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stop()
    return 0


def serve_until_interrupted(server, port: int, loaded: int, started: float) -> int:
    server.start()
    print(f"READY {port} ({loaded} objects loaded in {time.monotonic() - started:.2f}s)", flush=True)
    return run_until_interrupted(server.stop)
