"""ML screening: SOAP clustering against measured conductivities, AtomSets P_SI, band gap.

Sub-packages: :mod:`sseflow.ml.soap` (descriptor, Ward clustering, W_sigma, the
clustering tier) and :mod:`sseflow.ml.atomsets` (MEGNet site features, the AtomSets
ensemble, the P_SI tier, training). Shared here: the label reader
(:mod:`sseflow.ml.labels`), structure simplification, the band gap, the Sendek
baseline and the evaluation harness.
"""
