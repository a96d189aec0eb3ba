"""SOAP descriptors of simplified structures, Ward clustering, and the clustering tier."""

from sseflow.ml.soap.descriptor import SOAPSettings
from sseflow.ml.soap.jobs import SOAPClusteringMaker
from sseflow.ml.soap.schemas import ClusteringDocument

__all__ = ["ClusteringDocument", "SOAPClusteringMaker", "SOAPSettings"]
