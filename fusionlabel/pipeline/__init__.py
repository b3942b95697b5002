"""recording -> detections -> tracks -> labels + review queue, shared by the CLI, the GUI and cluster workers."""

from fusionlabel.pipeline.prelabel import Cancelled, PrelabelReport, PrelabelResult, merge_reviews, prelabel

__all__ = ["Cancelled", "PrelabelReport", "PrelabelResult", "merge_reviews", "prelabel"]
