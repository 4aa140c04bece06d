"""Type stubs of the native part of dmarc_rs (see the package docstring)."""

import datetime
import os
from typing import Any, Dict, Iterable, List, Literal, Optional, Sequence, Tuple, Union

from typing_extensions import TypedDict, Unpack

_Time = Union[int, float, datetime.datetime]
_Path = Union[str, os.PathLike]

COLUMNS: Tuple[str, ...]

class Filters(TypedDict, total=False):
    """The keyword filters every rollup takes (all optional; None means no condition)."""

    domain: Union[str, Sequence[str], None]
    since: Optional[_Time]
    until: Optional[_Time]
    source_ip: Optional[str]
    dkim: Optional[str]
    spf: Optional[str]
    disposition: Optional[str]
    org: Optional[str]

class Diagnostic:
    """Something repaired or odd in a report."""
    @property
    def code(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def record(self) -> Optional[int]: ...
    @property
    def raw(self) -> Optional[str]: ...
    @property
    def occurrences(self) -> int: ...
    @property
    def message(self) -> str: ...
    def to_dict(self) -> Dict[str, Any]: ...

class Record:
    """One record (row) of a report."""
    @property
    def source_ip(self) -> Optional[str]: ...
    @property
    def count(self) -> int: ...
    @property
    def disposition(self) -> Optional[str]: ...
    @property
    def dkim(self) -> Optional[str]: ...
    @property
    def spf(self) -> Optional[str]: ...
    @property
    def dkim_aligned(self) -> bool: ...
    @property
    def spf_aligned(self) -> bool: ...
    @property
    def dmarc_pass(self) -> bool: ...
    @property
    def header_from(self) -> Optional[str]: ...
    @property
    def envelope_from(self) -> Optional[str]: ...
    @property
    def envelope_to(self) -> Optional[str]: ...
    @property
    def policy_evaluated(self) -> Dict[str, Any]: ...
    @property
    def identifiers(self) -> Dict[str, Any]: ...
    @property
    def auth_results(self) -> Dict[str, List[Dict[str, Any]]]: ...
    @property
    def extensions(self) -> List[Dict[str, Any]]: ...
    def to_dict(self) -> Dict[str, Any]: ...

class Report:
    """One DMARC aggregate report; ``len(report)`` is its number of records."""
    @property
    def dialect(self) -> str: ...
    @property
    def version(self) -> Optional[str]: ...
    @property
    def report_metadata(self) -> Dict[str, Any]: ...
    @property
    def policy_published(self) -> Dict[str, Any]: ...
    @property
    def policy_effective(self) -> Dict[str, Any]: ...
    @property
    def extensions(self) -> List[Dict[str, Any]]: ...
    @property
    def org_name(self) -> Optional[str]: ...
    @property
    def email(self) -> Optional[str]: ...
    @property
    def report_id(self) -> str: ...
    @property
    def begin(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def domain(self) -> str: ...
    @property
    def organization(self) -> str: ...
    @property
    def identity(self) -> Tuple[str, str, str]: ...
    @property
    def xml_sha256(self) -> str: ...
    @property
    def message_count(self) -> int: ...
    @property
    def records(self) -> List[Record]: ...
    @property
    def diagnostics(self) -> List[Diagnostic]: ...
    def to_dict(self) -> Dict[str, Any]: ...
    def __len__(self) -> int: ...

class FileError:
    """A file, or a payload within it, that yielded no report."""
    @property
    def path(self) -> str: ...
    @property
    def part(self) -> Optional[str]: ...
    @property
    def kind(self) -> str: ...
    @property
    def message(self) -> str: ...

def parse_bytes(data: bytes, *, strict: bool = False, name: str = "<bytes>") -> List[Report]:
    """Parses the bytes of a report file, attachment or e-mail (XML, gzip, zlib, zip, MIME,
    mbox). Raises ParseError (or a subclass) when no report could be read; warns with
    ParseWarning about rejected payloads when others were read."""

def parse_file(path: _Path, *, strict: bool = False) -> List[Report]:
    """Reads and parses one file; raises ReadError when it cannot be read."""

def parse_paths(
    paths: Union[_Path, Sequence[_Path]], *, strict: bool = False, threads: Optional[int] = None
) -> Tuple[List[Report], List[FileError]]:
    """Parses every file of ``paths`` (folders read recursively) on ``threads`` threads
    (default: all cores) with the GIL released; returns ``(reports, errors)``."""

def summary(
    reports: Iterable[Report],
    **filters: Unpack[Filters],
) -> Dict[str, Any]:
    """Reports, domains, organisations, period and message tallies of the selected records."""

def by_source(
    reports: Iterable[Report],
    **filters: Unpack[Filters],
) -> List[Dict[str, Any]]:
    """Messages per source address, most messages first."""

def by_domain(
    reports: Iterable[Report],
    **filters: Unpack[Filters],
) -> List[Dict[str, Any]]:
    """Messages per policy domain, most messages first."""

def by_organization(
    reports: Iterable[Report],
    **filters: Unpack[Filters],
) -> List[Dict[str, Any]]:
    """Messages per reporting organisation, most messages first."""

def timeline(
    reports: Iterable[Report],
    *,
    bucket: Literal["day", "week", "month", "auto"] = "day",
    **filters: Unpack[Filters],
) -> List[Dict[str, Any]]:
    """Messages per UTC day, ISO week or month (``auto``: at most 400 points); a report's
    messages are spread over the days it covers."""

def failure_trend(
    reports: Iterable[Report],
    *,
    window: int = 7,
    bucket: Literal["day", "week", "month", "auto"] = "day",
    **filters: Unpack[Filters],
) -> List[Dict[str, Any]]:
    """DMARC failure rate per day (or week, or month) and its moving average over
    ``window`` of them."""

def to_records(reports: Iterable[Report]) -> List[Dict[str, Any]]:
    """Every record of ``reports`` as a dict with the columns of ``COLUMNS``."""

def record_columns(reports: Iterable[Report]) -> Dict[str, List[Any]]:
    """The records of ``reports`` by column (used by ``records_frame``)."""

class Place(TypedDict, total=False):
    country: Optional[str]
    asn: Optional[int]

def features(
    reports: Iterable[Report],
    at: Union[int, float, datetime.datetime, None] = None,
    places: Optional[Dict[str, Place]] = None,
    **filters: Unpack[Filters],
) -> Dict[str, Any]:
    """Per source address, the features the anomaly model sees: ``source_ip``,
    ``unauthenticated`` (the sources it learns and scores), ``features`` (column names) and
    ``rows``. ``at`` (default: the latest report end) is when recency is measured;
    ``places`` gives addresses a country and network."""

def train(
    reports: Iterable[Report],
    at: Union[int, float, datetime.datetime, None] = None,
    places: Optional[Dict[str, Place]] = None,
    trees: int = 100,
    sample_size: int = 256,
    seed: int = 0,
    threshold: float = 0.5,
    contamination: float = 0.005,
    **filters: Unpack[Filters],
) -> AnomalyModel:
    """A model trained on the unauthenticated sources of ``reports``, as the server
    trains; the same reports and seed give the same model. Its threshold is the score at
    or above which ``contamination`` of those sources lie, never below ``threshold``."""

class AnomalyModel:
    threshold: float
    def score(
        self,
        reports: Iterable[Report],
        at: Union[int, float, datetime.datetime, None] = None,
        places: Optional[Dict[str, Place]] = None,
        **filters: Unpack[Filters],
    ) -> List[Dict[str, Any]]:
        """One dict per source (``source_ip``, ``score`` 0-1, ``anomalous``, ``reasons``),
        highest score first; authenticated sources score 0."""
    def to_json(self) -> str: ...
    @staticmethod
    def from_json(text: str) -> AnomalyModel: ...

class IsolationForest:
    """A seeded Isolation Forest over any feature matrix (scikit-learn's algorithm)."""
    def __init__(self, trees: int = 100, sample_size: int = 256, seed: int = 0) -> None: ...
    def fit(self, rows: Sequence[Sequence[float]]) -> IsolationForest:
        """A forest grown on ``rows``."""
    def score(self, rows: Sequence[Sequence[float]]) -> List[float]:
        """Each row's anomaly score, 0 to 1 (scikit-learn's ``-score_samples``)."""
    def to_bytes(self) -> bytes: ...
