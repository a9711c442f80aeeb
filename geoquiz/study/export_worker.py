"""An export worker process: ``python -m geoquiz.study.export_worker`` (started by
:class:`geoquiz.study.export_parts.WorkerPool`, never by hand).

Reads one JSON request per line on stdin and answers each with one JSON line on stdout:

* ``open {db}``: a reader connection (query-only, the export's SQL functions registered);
* ``begin``: start its snapshot (sent while the coordinator holds the write lock);
* ``ask {wanted}``: answer profile questions ``[table, column, check]`` on the snapshot; answers
  ``{known: [[table, column, check, flag], ...]}``; ``known {known}``: take answers found elsewhere;
* ``part {table, index, lo, hi, rows, path}``: write that part's CSV body to ``path``; ``{rows: n}``;
* ``coco {path}``: write the COCO document to ``path`` (atomically); ``{rows: annotations}``;
* ``exit``: end the snapshot and stop (so does the end of stdin).

An error answers ``{error: message, oserror: bool, strerror}`` and the worker goes on reading.
Anything else printed goes to stderr: stdout carries only the answers.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path


def main() -> int:
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray output (Python or C) goes to stderr
    sys.stdout = sys.stderr
    # Ctrl-C in a terminal reaches the whole process group: the coordinator decides (it stops us)
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    from geoquiz.study import snapshot
    from geoquiz.study.export_parts import Part, write_part
    from geoquiz.study.export_sql import Profile, prepare

    def answer(message: dict) -> None:
        answers.write(json.dumps(message) + "\n")
        answers.flush()

    conn, profile = None, Profile()
    answer({"ready": True})
    try:
        for line in sys.stdin:
            request = json.loads(line)
            op = request.get("op")
            if op == "exit":
                break
            try:
                if op == "open":
                    conn = snapshot.begin_reader(request["db"])
                    prepare(conn)
                    answer({"opened": True})
                elif op == "begin":
                    snapshot.begin(conn)
                    answer({"begun": True})
                elif op == "ask":
                    profile.ask(conn, {tuple(w) for w in request["wanted"]})
                    answer({"known": [[*k, v] for k, v in profile.known.items()]})
                elif op == "known":
                    profile.merge(tuple(k) for k in request["known"])
                    answer({"merged": True})
                elif op == "part":
                    part = Part(**{k: request[k] for k in ("table", "index", "lo", "hi", "rows")})
                    answer({"rows": write_part(conn, part, request["path"], profile=profile)})
                elif op == "coco":
                    from geoquiz.study.export_coco import write_coco

                    answer({"rows": write_coco(conn, Path(request["path"]), profile=profile, ahead=False)})
                else:
                    answer({"error": f"unknown request {op!r}"})
            except Exception as exc:  # answered; the coordinator decides
                answer(
                    {
                        "error": str(exc) or type(exc).__name__,
                        "oserror": isinstance(exc, OSError),
                        "strerror": getattr(exc, "strerror", None),
                    }
                )
    finally:
        if conn is not None:
            snapshot.end(conn)
    return 0


if __name__ == "__main__":
    sys.exit(main())
