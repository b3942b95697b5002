"""The desktop application: the only package that imports Qt (PySide6) or vispy.

``frame_view`` is the exception that proves the rule: it computes what the window shows
(colours, wireframes, camera overlays) with numpy only, so it is testable and benchmarkable
without a display.
"""
