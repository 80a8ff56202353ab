"""Code that runs inside the sandbox, next to the student's code: it trusts nothing and nothing trusts it.

A kernel can read, patch or replace any of it in its own process; the grader
only ever uses what these modules produce as untrusted data
(:mod:`mtl_teach.grading.from_kernel` reads it).

- :mod:`~mtl_teach.grading.in_sandbox.kernel_launcher`: lower the kernel's limits, then start ipykernel.
- :mod:`~mtl_teach.grading.in_sandbox.export`: describe a step's answers as plain data in a file.
- :mod:`~mtl_teach.grading.in_sandbox.forkserver`: the fork server (process 1 of its sandbox) and each
  forked kernel's isolation before any student code runs.

Each is started or loaded by path, so none of the grader's other modules is
imported in the sandbox; these files import only the standard library, the
kit (:mod:`mtl_teach` itself) and each other.
"""
