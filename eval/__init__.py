"""Evaluation harness: dataset loading, metrics, run files, result comparison and HTML reports."""

from eval.dataset import CorpusDoc, Dataset, DatasetError, Query, load_dataset
from eval.metrics import QueryRecord, aggregate
from eval.runfile import QuestionRow, RunFile, load_run

__all__ = [
    "CorpusDoc", "Dataset", "DatasetError", "Query", "QueryRecord", "QuestionRow", "RunFile", "aggregate",
    "load_dataset", "load_run",
]
