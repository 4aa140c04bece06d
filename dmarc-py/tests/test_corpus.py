"""The corpus read from Python equals the reference values the core is tested against."""

import pytest

import dmarc_rs
from conftest import CORPUS, expected_reports, references

AGGREGATE = references("aggregate")


def lower(value):
    return value.strip().lower() if isinstance(value, str) else value


def test_corpus_is_complete():
    assert len(AGGREGATE) >= 120


@pytest.mark.parametrize("file,reference", AGGREGATE, ids=[f for f, _ in AGGREGATE])
def test_aggregate_file_matches_reference(file, reference):
    want = expected_reports(reference)
    got = dmarc_rs.parse_file(CORPUS / file)
    assert len(got) == len(want)
    for w, report in zip(want, got):
        assert report.org_name == w["org_name"]
        assert report.email == w["email"]
        assert report.report_id == w["report_id"]
        assert (report.begin, report.end) == (w["begin"], w["end"])
        policy = report.policy_published
        assert policy["domain"] == w["policy_domain"]
        assert lower(policy.get("p")) == lower(w["p"])
        assert len(report) == len(w["records"])
        for wr, record in zip(w["records"], report.records):
            want_ip = wr["source_ip"]
            if want_ip is not None:
                import ipaddress

                want_ip = str(ipaddress.ip_address(want_ip))
            assert record.source_ip == want_ip
            assert record.count == wr["count"]
            assert lower(record.disposition) == lower(wr["disposition"])
            assert record.dkim_aligned == (wr["dkim_aligned"] == "pass")
            assert record.spf_aligned == (wr["spf_aligned"] == "pass")
            assert record.header_from == wr["header_from"]
            assert record.envelope_from == wr["envelope_from"]
            auth = record.auth_results
            assert [d.get("domain") for d in auth["dkim"]] == [d["domain"] for d in wr["dkim"]]
            assert [s.get("domain") for s in auth["spf"]] == [s["domain"] for s in wr["spf"]]
        assert report.message_count == sum(r["count"] for r in w["records"])


def test_parse_paths_reads_the_whole_corpus_like_parse_file():
    reports, errors = dmarc_rs.parse_paths(CORPUS / "aggregate", threads=2)
    one_by_one = []
    for file, reference in AGGREGATE:
        one_by_one.extend(dmarc_rs.parse_file(CORPUS / file))
    assert errors == []
    key = lambda r: (r.xml_sha256, r.report_id)  # noqa: E731
    assert sorted(map(key, reports)) == sorted(map(key, one_by_one))
    assert sum(len(r) for r in reports) == sum(len(r) for r in one_by_one)
    assert sum(r.message_count for r in reports) == sum(r.message_count for r in one_by_one)


def test_invalid_files_are_errors_not_exceptions_in_a_batch():
    reports, errors = dmarc_rs.parse_paths(
        [CORPUS / "aggregate_invalid", CORPUS / "smtp_tls", CORPUS / "failure"]
    )
    assert errors, "the invalid corpus must yield errors"
    for error in errors:
        assert error.path and error.kind and error.message
    assert any(e.kind == "not_aggregate_report" for e in errors)
    # Salvaged reports keep their records; a report without any carries a no_records warning.
    empty = [r for r in reports if len(r) == 0]
    assert len(empty) == 2
    for r in empty:
        assert any(d.code == "no_records" and d.severity == "warning" for d in r.diagnostics)
    assert all(len(r) > 0 for r in reports if r not in empty)
