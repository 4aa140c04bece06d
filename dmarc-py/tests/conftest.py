import json
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CORPUS = ROOT / "dmarc-core" / "tests" / "data" / "corpus"


def expected_reports(reference):
    """parsedmarc's values where it succeeded, else the strict XML cross-check."""
    reports = reference.get("reports") or []
    if reports:
        return reports
    return (reference.get("crosscheck") or {}).get("xml_reports") or []


def references(folder):
    out = []
    for path in sorted((CORPUS / "reference" / folder).glob("*.json")):
        reference = json.loads(path.read_text())
        out.append((reference["file"].removeprefix("dev/"), reference))
    return out


@pytest.fixture(scope="session")
def corpus():
    assert CORPUS.is_dir(), f"corpus missing: {CORPUS}"
    return CORPUS
