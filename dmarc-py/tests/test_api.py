"""The Python API: objects, errors, filters, rollups and tables."""

import datetime
import subprocess
import sys
import warnings

import pytest

import dmarc_rs
from conftest import CORPUS, ROOT

XML = b"""<?xml version="1.0"?>
<feedback>
  <report_metadata>
    <org_name>google.com</org_name><email>noreply-dmarc-support@google.com</email>
    <report_id>5264580628977113351</report_id>
    <date_range><begin>1669507200</begin><end>1669593599</end></date_range>
  </report_metadata>
  <policy_published><domain>Example.com</domain><p>Reject</p></policy_published>
  <record>
    <row>
      <source_ip>2a01:4f9:c011:b43c::1</source_ip><count>3</count>
      <policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>fail</spf></policy_evaluated>
    </row>
    <identifiers><header_from>example.com</header_from></identifiers>
    <auth_results>
      <dkim><domain>example.com</domain><result>pass</result><selector>s1</selector></dkim>
      <spf><domain>bounce.example.net</domain><result>hardfail</result></spf>
    </auth_results>
  </record>
  <record>
    <row>
      <source_ip>192.0.2.7</source_ip><count>5</count>
      <policy_evaluated><disposition>reject</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated>
    </row>
    <identifiers><header_from>example.com</header_from></identifiers>
    <auth_results><spf><domain>spoof.example</domain><result>fail</result></spf></auth_results>
  </record>
</feedback>"""


@pytest.fixture()
def report():
    (report,) = dmarc_rs.parse_bytes(XML, name="google.xml")
    return report


def test_report_and_record_attributes(report):
    assert report.org_name == "google.com"
    assert report.report_id == "5264580628977113351"
    assert (report.begin, report.end) == (1669507200, 1669593599)
    assert report.domain == "example.com"
    assert report.policy_published["p"] == "reject"
    assert report.identity == ("google.com", "5264580628977113351", "example.com")
    assert report.message_count == 8 and len(report) == 2
    first, second = report.records
    assert first.source_ip == "2a01:4f9:c011:b43c::1"
    assert (first.count, first.disposition, first.dkim_aligned, first.dmarc_pass) == (
        3,
        "none",
        True,
        True,
    )
    assert first.auth_results["dkim"][0]["selector"] == "s1"
    assert not second.dmarc_pass
    # The repairs ("Reject", "hardfail") are diagnostics.
    raws = {d.raw for d in report.diagnostics}
    assert "hardfail" in raws
    assert all(d.message and d.severity for d in report.diagnostics)
    as_dict = report.to_dict()
    assert as_dict["report_metadata"]["report_id"] == report.report_id
    assert len(as_dict["records"]) == 2
    assert "Report(" in repr(report) and "Record(" in repr(first)


def test_errors_are_a_small_hierarchy():
    with pytest.raises(dmarc_rs.ParseError) as caught:
        dmarc_rs.parse_bytes(b"<feedback><report_metadata>", name="cut.xml")
    assert isinstance(caught.value, ValueError)
    assert caught.value.kind == "malformed_xml" and caught.value.source == "cut.xml"
    laughs = b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><feedback/>'
    with pytest.raises(dmarc_rs.ForbiddenInput):
        dmarc_rs.parse_bytes(laughs)
    with pytest.raises(dmarc_rs.LimitExceeded):
        dmarc_rs.parse_file(CORPUS.parent / "attacks" / "zeros-1gib.xml.gz")
    with pytest.raises(dmarc_rs.ReadError) as missing:
        dmarc_rs.parse_file(CORPUS / "no-such-file.xml")
    assert isinstance(missing.value, OSError)
    with pytest.raises(dmarc_rs.NotAggregateReport):
        dmarc_rs.parse_bytes(b"From: a@example.com\r\nSubject: hi\r\n\r\nno report here\r\n")


def test_strict_mode_rejects_repaired_reports():
    with pytest.raises(dmarc_rs.ParseError) as caught:
        dmarc_rs.parse_bytes(XML, strict=True)
    assert caught.value.kind == "strict"


def test_filters_select_like_the_core(report):
    reports = [report]
    assert dmarc_rs.summary(reports)["messages"] == 8
    assert dmarc_rs.summary(reports, source_ip="192.0.2.0/24")["messages"] == 5
    assert dmarc_rs.summary(reports, dkim="pass")["messages"] == 3
    assert dmarc_rs.summary(reports, disposition="reject")["messages"] == 5
    assert dmarc_rs.summary(reports, domain=["EXAMPLE.com"])["messages"] == 8
    assert dmarc_rs.summary(reports, domain="other.example")["messages"] == 0
    assert dmarc_rs.summary(reports, org="Google.com")["messages"] == 8
    after = datetime.datetime(2022, 11, 28, 0, 0, 0)  # naive: taken as UTC
    assert dmarc_rs.summary(reports, since=after)["messages"] == 0
    aware = datetime.datetime(2022, 11, 27, tzinfo=datetime.timezone.utc)
    assert dmarc_rs.summary(reports, since=aware, until=1669593600)["messages"] == 8
    with pytest.raises(dmarc_rs.FilterError):
        dmarc_rs.summary(reports, source_ip="not-an-address")
    with pytest.raises(ValueError):
        dmarc_rs.summary(reports, dkim="maybe")
    with pytest.raises(TypeError):
        dmarc_rs.summary(reports, colour="blue")


def test_rollups(report):
    reports = [report]
    sources = dmarc_rs.by_source(reports)
    assert [s["source_ip"] for s in sources] == ["192.0.2.7", "2a01:4f9:c011:b43c::1"]
    assert dmarc_rs.by_domain(reports)[0]["key"] == "example.com"
    assert dmarc_rs.by_organization(reports)[0]["messages"] == 8
    days = dmarc_rs.timeline(reports)
    assert sum(d["messages"] for d in days) == 8
    trend = dmarc_rs.failure_trend(reports, window=3)
    assert len(trend) == len(days)
    for bucket in ("week", "month", "auto"):
        points = dmarc_rs.timeline(reports, bucket=bucket)
        assert sum(p["messages"] for p in points) == 8
        assert len(dmarc_rs.failure_trend(reports, bucket=bucket)) == len(points)
    with pytest.raises(dmarc_rs.FilterError):
        dmarc_rs.timeline(reports, bucket="hour")


def test_tables(report):
    rows = dmarc_rs.to_records([report, report])
    assert len(rows) == 4
    assert list(rows[0]) == list(dmarc_rs.COLUMNS)
    assert rows[1]["source_ip"] == "192.0.2.7" and rows[1]["dmarc_pass"] is False
    pd = pytest.importorskip("pandas")
    frame = dmarc_rs.records_frame([report])
    assert len(frame) == 2
    assert str(frame["count"].dtype) == "int64"
    assert str(frame["dmarc_pass"].dtype) == "bool"
    assert str(frame["begin"].dtype).startswith("datetime64") and "UTC" in str(frame["begin"].dtype)
    assert frame["begin"].iloc[0] == pd.Timestamp(1669507200, unit="s", tz="UTC")
    assert frame["count"].sum() == 8


def test_rejected_parts_warn_when_others_are_read(tmp_path):
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("good.xml", XML)
        archive.writestr("bad.xml", b"<feedback><report_metadata>")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reports = dmarc_rs.parse_bytes(buffer.getvalue(), name="two.zip")
    # Either both entries are read (one rejected, with a warning) or the archive's one
    # report entry is chosen: the good report always comes through.
    assert [r.report_id for r in reports] == ["5264580628977113351"]
    for w in caught:
        assert issubclass(w.category, dmarc_rs.ParseWarning)


def test_example_script_runs():
    script = ROOT / "dmarc-py" / "examples" / "explore.py"
    done = subprocess.run(
        [sys.executable, str(script), str(CORPUS / "aggregate")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "reports" in done.stdout and "top sources" in done.stdout


def test_stubs_declare_every_native_name():
    import ast
    import pathlib

    stub = pathlib.Path(dmarc_rs.__file__).with_name("_native.pyi")
    tree = ast.parse(stub.read_text())
    declared = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    declared |= {n.target.id for n in tree.body if isinstance(n, ast.AnnAssign)}
    public = {name for name in dir(dmarc_rs._native) if not name.startswith("_")}
    assert public <= declared, public - declared
    for name in public:
        assert getattr(dmarc_rs._native, name).__doc__ or name == "COLUMNS", name


def test_records_frame_without_pandas_says_what_to_do(report, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # `import pandas` now fails
    with pytest.raises(ImportError, match="pip install pandas"):
        dmarc_rs.records_frame([report])
    assert len(dmarc_rs.to_records([report])) == 2
