"""The names of the review's architecture families — defined here, once, and imported everywhere else.

Zhao et al., "Multi-task deep learning for medical image computing and analysis: A review",
Comput. Biol. Med. 153:106496 (2023), Fig. 1. This module imports nothing, so the command line and
the dashboard can list the families without loading torch.
"""

#: The four multi-task families of the review, in the order the lessons and the dashboard show them.
MULTI_TASK_FAMILIES: tuple[str, ...] = ("parallel", "cascaded", "interacted", "hybrid")
#: Every family :func:`~mtdl_kit.models.build_model` builds: the four above and the single-task baseline.
FAMILIES: tuple[str, ...] = (*MULTI_TASK_FAMILIES, "single")
