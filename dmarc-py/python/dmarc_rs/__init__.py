"""Fast, hardened DMARC aggregate report parsing and rollups (a Rust core).

>>> import dmarc_rs
>>> reports = dmarc_rs.parse_file("google.com!example.com!1669507200!1669593599.zip")
>>> dmarc_rs.summary(reports, domain="example.com")["messages"]

Parsing: ``parse_file``, ``parse_bytes``, ``parse_paths`` (many files on all cores).
Data: ``Report`` and ``Record`` objects, ``to_records`` (list of dicts) and
``records_frame`` (a pandas DataFrame). Rollups: ``summary``, ``by_source``, ``by_domain``,
``by_organization``, ``timeline``, ``failure_trend``, all taking the filters ``domain``,
``since``, ``until``, ``source_ip``, ``dkim``, ``spf``, ``disposition`` and ``org``.
Anomaly detection (the server's model): ``features``, ``train`` (an ``AnomalyModel`` with
``score``), and ``IsolationForest`` over any feature matrix.
"""

from typing import Any, Iterable

from . import errors
from ._native import (
    COLUMNS,
    AnomalyModel,
    IsolationForest,
    features,
    train,
    Diagnostic,
    FileError,
    Record,
    Report,
    by_domain,
    by_organization,
    by_source,
    failure_trend,
    parse_bytes,
    parse_file,
    parse_paths,
    record_columns as _record_columns,
    summary,
    timeline,
    to_records,
)
from .errors import (
    DmarcError,
    FilterError,
    ForbiddenInput,
    LimitExceeded,
    NotAggregateReport,
    ParseError,
    ParseWarning,
    ReadError,
)

# Column dtypes of records_frame.
_DTYPES = {
    "org_name": "string",
    "report_id": "string",
    "domain": "string",
    "policy_p": "category",
    "source_ip": "string",
    "count": "int64",
    "disposition": "category",
    "dkim": "category",
    "spf": "category",
    "dkim_aligned": "bool",
    "spf_aligned": "bool",
    "dmarc_pass": "bool",
    "header_from": "string",
    "envelope_from": "string",
    "envelope_to": "string",
    "xml_sha256": "string",
}


def records_frame(reports: Iterable[Report]) -> Any:
    """One row per record of ``reports`` as a pandas DataFrame with typed columns.

    ``begin`` and ``end`` are ``datetime64[ns, UTC]``; ``count`` is int64; the aligned
    verdicts and ``dmarc_pass`` are bool; short enumerations are categories; text is the
    pandas ``string`` dtype. Needs pandas (``pip install dmarc-rs[pandas]``); without it,
    use ``to_records``.
    """
    try:
        import pandas as pd
    except ImportError as e:
        raise ImportError(
            "records_frame needs pandas: pip install pandas "
            "(or use dmarc_rs.to_records for a list of dicts)"
        ) from e
    frame = pd.DataFrame(_record_columns(list(reports)), columns=list(COLUMNS))
    frame = frame.astype(_DTYPES)
    for column in ("begin", "end"):
        frame[column] = pd.to_datetime(frame[column].astype("int64"), unit="s", utc=True)
    return frame


__all__ = [
    "AnomalyModel",
    "COLUMNS",
    "IsolationForest",
    "features",
    "train",
    "Diagnostic",
    "DmarcError",
    "FileError",
    "FilterError",
    "ForbiddenInput",
    "LimitExceeded",
    "NotAggregateReport",
    "ParseError",
    "ParseWarning",
    "ReadError",
    "Record",
    "Report",
    "by_domain",
    "by_organization",
    "by_source",
    "errors",
    "failure_trend",
    "parse_bytes",
    "parse_file",
    "parse_paths",
    "records_frame",
    "summary",
    "timeline",
    "to_records",
]
