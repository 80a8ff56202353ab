"""The kit in a class: a JupyterHub, nbgitpuller links, handing in and collecting.

- :func:`submit` (``from mtl_teach.classroom import submit; submit()``): a
  student hands in the notebook they are working in (:mod:`.handin`).
- ``mtl-teach collect ASSIGNMENT``: each student's latest hand-in, ready for
  ``mtl-teach grade`` (:mod:`.collect`).
- ``mtl-teach links --hub URL``: a link per notebook (:mod:`.course_links`).
- :mod:`.hub`: the settings behind ``make hub`` (``hub/jupyterhub_config.py``).
"""

from mtl_teach.classroom.handin import Receipt, submit

__all__ = ["Receipt", "submit"]
