"""Release student notebooks and grade submissions (``mtl-teach release`` / ``grade``).

The trust boundary is in the layout. Student code is hostile:

- :mod:`mtl_teach.grading.in_sandbox` holds the code that runs inside the
  sandbox, next to student code (the kernel launcher, the answer export, the
  fork server itself). Nothing there is trusted.
- :mod:`mtl_teach.grading.from_kernel` holds the trusted side's handling of
  everything a kernel could have touched or produced: its folders (``fs``, the
  one file-system helper), its messages, its answer files, its text.
- Everything else here is the grader's own logic, which reaches what a
  kernel produced only through ``from_kernel``:

  - :mod:`~mtl_teach.grading.cells`: nbgrader-style cells, release, assembly.
  - :mod:`~mtl_teach.grading.sandbox`: the bubblewrap sandbox every graded kernel runs in, and its
    allow-listed environment.
  - :mod:`~mtl_teach.grading.forkserver`: the worker's handle on the fork server that starts each kernel
    with torch already imported.
  - :mod:`~mtl_teach.grading.kernel`: run cells in a resource-limited kernel.
  - :mod:`~mtl_teach.grading.record`: what grading one submission produced (``Record``, ``Item``).
  - :mod:`~mtl_teach.grading.submission`: grade one submission.
  - :mod:`~mtl_teach.grading.worker`: a long-lived grading process, both ends.
  - :mod:`~mtl_teach.grading.report`: journal, grades.csv, feedback, results.json.
  - :mod:`~mtl_teach.grading.release` and :mod:`~mtl_teach.grading.batch`: the ``release``
    and ``grade`` commands.

The README's "Threat model" says what a kernel can and cannot do, and which test shows it.
"""
