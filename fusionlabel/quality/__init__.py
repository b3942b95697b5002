"""Evaluation metrics, label QA and comparison of label sets.

* :mod:`.clear_mot` -- CLEAR MOT, sMOTA/AMOTA sweep (AB3DMOT's KITTI evaluation)
* :mod:`.kitti_eval` -- KITTI tracking files and rules
* :mod:`.hota`, :mod:`.idf1` -- HOTA and IDF1 on 3D IoU
* :mod:`.edit_ops` -- correction effort against keyframe labelling
* :mod:`.review_metrics` -- review load and error coverage of a review queue
* :mod:`.evaluation` -- all of them together (``fusionlabel eval``)

Definitions: ``docs/evaluation.md``.
"""
