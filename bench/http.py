"""LAKSA over HTTP (the production server) against the engine floor, in one run.

    .venv/bin/python bench/http.py [--n 600] [--rounds 3] [--warmup 50] [--clients 4]
    LAKSA_BENCH_POSTGRES_URL=postgresql+psycopg://... .venv/bin/python bench/http.py

A fresh instance in a temporary folder (``laksa init --demo``; SQLite there, or a fresh schema
in LAKSA_BENCH_POSTGRES_URL, dropped at the end), an API token for the demo ``verifikator``,
and ``laksa serve --production`` as a subprocess with the rate limits raised. Phase one, one
gunicorn worker: one keep-alive client files ``POST /api/v1/tickets`` (JSON) one after the
other, then completes the ``verify`` task of each of those tickets (``POST
/api/v1/tasks/{id}/complete`` with the token). Phase two, two workers: ``--clients`` client
processes, each with its own keep-alive connection, file submissions at once; their sum counts.

The engine floor (bench/engine.py: bare SpiffWorkflow, parsed spec in memory, only the
workflow's state serialized, no database) runs in this process in rounds interleaved with the
HTTP rounds, while the server idles. Each ratio is the median of the per-round ratios. The
last line printed is one JSON object.
"""

# This file's name is the standard library's ``http``: a script in bench/ (its folder first on
# sys.path) that imports ``http.client`` or ``urllib.request`` finds this file instead. Imported
# by that name, it puts the standard library's package in its place and defines nothing else;
# the bench itself lives in http_load.py.
if __name__ == "http":
    import os as _os
    import sys as _sys

    _folder = _os.path.dirname(_os.path.realpath(__file__))
    _path = list(_sys.path)
    _sys.path[:] = [p for p in _path if _os.path.realpath(p or ".") != _folder]
    del _sys.modules["http"]
    try:
        import http as _standard_http
    finally:
        _sys.path[:] = _path
    _sys.modules["http"] = _standard_http
elif __name__ == "__main__":
    import runpy
    import sys
    from pathlib import Path

    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    sys.modules.pop("http", None)  # in case anything imported this file by that name
    runpy.run_path(str(here / "http_load.py"), run_name="__main__")
