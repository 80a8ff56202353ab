"""Release student notebooks and grade submissions (``mtl-teach release`` / ``grade``).

- :mod:`~mtl_teach.grading.cells`: nbgrader-style cells, release, assembly.
- :mod:`~mtl_teach.grading.kernel`: run cells in a resource-limited kernel.
- :mod:`~mtl_teach.grading.export` / :mod:`~mtl_teach.grading.rebuild`: move
  answers out of the student's kernel as plain data, and rebuild them.
- :mod:`~mtl_teach.grading.sandbox`: the bubblewrap sandbox every graded kernel runs in.
- :mod:`~mtl_teach.grading.forkserver`: a server in that sandbox that forks each kernel
  with torch already imported, each in namespaces of its own.
- :mod:`~mtl_teach.grading.record`: what grading one submission produced (``Record``, ``Item``).
- :mod:`~mtl_teach.grading.submission`: grade one submission.
- :mod:`~mtl_teach.grading.worker`: a long-lived grading process, both ends.
- :mod:`~mtl_teach.grading.report`: journal, grades.csv, feedback, results.json.
- :mod:`~mtl_teach.grading.release` and :mod:`~mtl_teach.grading.batch`: the ``release``
  and ``grade`` commands.
"""
