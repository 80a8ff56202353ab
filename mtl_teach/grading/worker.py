"""A grading worker: reads one job (JSON) per line on stdin, answers one record per line.

The parent (:mod:`mtl_teach.grading.grade`) keeps ``--jobs`` of these alive, so
the heavy imports happen once per worker, not once per submission. Anything
else that prints goes to stderr, keeping stdout for records only.
"""

from __future__ import annotations

import json
import os
import sys
import traceback

from mtl_teach.grading.kernel import Limits
from mtl_teach.grading.runner import Job, grade_submission


def main() -> int:
    records = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # stray prints (ours or libraries') must not corrupt the records
    sys.stdout = sys.stderr
    for line in sys.stdin:
        if not line.strip():
            continue
        fields = json.loads(line)
        fields["limits"] = Limits(**fields["limits"])
        job = Job(**fields)
        try:
            record = grade_submission(job)
        except Exception as error:  # a grader bug: report it for this submission only
            record = {
                "student": job.student,
                "grader_error": f"{type(error).__name__}: {error}",
                "trace": traceback.format_exc()[-2000:],
            }
        records.write(json.dumps(record) + "\n")
        records.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
