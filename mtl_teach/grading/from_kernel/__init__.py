"""The trusted side's handling of everything a kernel could have touched or produced.

A kernel is hostile. Whatever it could have written or said reaches the
grader only through these modules, which treat it as data to check, never as
a path to follow, a size to trust or text to show:

- :mod:`~mtl_teach.grading.from_kernel.fs`: the one file-system helper for
  folders a kernel could write (no links followed, exclusive creation,
  regular files of a bounded size, bounded removal that never raises);
- :mod:`~mtl_teach.grading.from_kernel.messages`: its Jupyter messages, capped
  as they arrive and checked before use (a malformed one is the kernel's
  fault, never the grader's);
- :mod:`~mtl_teach.grading.from_kernel.rebuild`: its answer files, sizes
  checked before decoding, rebuilt into genuine objects;
- :mod:`~mtl_teach.grading.from_kernel.text`: its text (and students' file
  names), what of it may reach a student or a terminal.
"""
