"""Evaluation harness: dataset loading, metrics, result comparison and HTML reports."""

from eval.dataset import CorpusDoc, Dataset, DatasetError, Query, load_dataset
from eval.metrics import QueryRecord, aggregate

__all__ = ["CorpusDoc", "Dataset", "DatasetError", "Query", "QueryRecord", "aggregate", "load_dataset"]
