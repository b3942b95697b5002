"""The parts of label QA; the entry point is :func:`fusionlabel.quality.label_qa.check_labels`.

* :mod:`.stats` -- a check's values and their robust per-class z
* :mod:`.label_checks` -- size, speed, acceleration, yaw rate, overlap, ID reuse (labels alone)
* :mod:`.lidar_checks` -- LiDAR evidence of a box and its height above the ground (needs the recording)
* :mod:`.findings` -- a check's hit, a finding, the report
* :mod:`.ranking` -- hits merged into findings per track and run of frames, ranked by score
* :mod:`.planting` -- known errors planted into labels, and recall/precision of the findings

Dependencies run one way: ``stats``, ``findings`` <- ``label_checks``, ``lidar_checks``,
``ranking``, ``planting`` <- :mod:`fusionlabel.quality.label_qa`.
"""
