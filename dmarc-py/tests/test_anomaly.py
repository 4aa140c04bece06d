"""Anomaly detection from Python: features, a model trained on a notebook's reports, its
scores and explanations, and the bare Isolation Forest."""

import json

import pytest

import dmarc_rs

DAY = 86_400
FIRST = 1_700_000_000 // DAY * DAY


def report(report_id, begin, rows, policy="none"):
    """A report of ``rows``: (address, count, passes)."""
    records = "".join(
        f"<record><row><source_ip>{ip}</source_ip><count>{count}</count>"
        f"<policy_evaluated><disposition>{'none' if ok else policy}</disposition>"
        f"<dkim>{'pass' if ok else 'fail'}</dkim><spf>{'pass' if ok else 'fail'}</spf>"
        f"</policy_evaluated></row><identifiers><header_from>example.com</header_from>"
        f"</identifiers></record>"
        for ip, count, ok in rows
    )
    xml = (
        f"<feedback><report_metadata><org_name>r</org_name><email>r@example.net</email>"
        f"<report_id>{report_id}</report_id><date_range><begin>{begin}</begin>"
        f"<end>{begin + DAY - 1}</end></date_range></report_metadata><policy_published>"
        f"<domain>example.com</domain><p>{policy}</p></policy_published>{records}</feedback>"
    )
    return dmarc_rs.parse_bytes(xml.encode())[0]


@pytest.fixture(scope="module")
def reports():
    """30 days: 20 aligned senders, 300 forwarders failing a message or two once, and on
    the last 2 days 3 spoofers failing hundreds."""
    out = []
    for day in range(30):
        begin = FIRST + day * DAY
        rows = [(f"198.51.100.{i}", 50 + i, True) for i in range(20)]
        rows += [(f"10.{day}.{k}.1", 1 + k % 2, False) for k in range(10)]
        if day >= 28:
            rows += [(f"203.0.113.{k}", 400 + k, False) for k in range(3)]
        out.append(report(f"d{day}", begin, rows, policy="reject"))
    return out


def test_features_are_the_servers_columns(reports):
    f = dmarc_rs.features(reports)
    assert f["features"][0] == "log_messages" and len(f["features"]) == 12
    assert len(f["rows"]) == len(f["source_ip"]) == len(f["unauthenticated"]) == 323
    by_ip = dict(zip(f["source_ip"], f["unauthenticated"]))
    assert by_ip["198.51.100.1"] is False and by_ip["203.0.113.0"] is True
    row = f["rows"][f["source_ip"].index("203.0.113.0")]
    assert row[1] == 0.0, "never passes DMARC"
    places = {"203.0.113.0": {"country": "KP", "asn": 64500}}
    placed = dmarc_rs.features(reports, places=places)
    rarity = placed["features"].index("country_rarity")
    assert placed["rows"][placed["source_ip"].index("203.0.113.0")][rarity] > 0.9
    only = dmarc_rs.features(reports, source_ip="203.0.113.0/30")
    assert sorted(only["source_ip"]) == ["203.0.113.0", "203.0.113.1", "203.0.113.2"]


def test_a_model_trained_here_puts_the_spoofers_on_top(reports):
    model = dmarc_rs.train(reports, seed=3)
    assert "trees=100" in repr(model)
    scores = model.score(reports)
    top = [s["source_ip"] for s in scores[:3]]
    assert sorted(top) == ["203.0.113.0", "203.0.113.1", "203.0.113.2"]
    assert scores[0]["anomalous"] and scores[0]["reasons"][0].startswith("volume ")
    # The threshold, as the server sets it: 0.5 % of the training sources at or above it.
    assert 0.5 <= model.threshold <= scores[0]["score"]
    unauthenticated = [s for s in scores if s["score"] > 0.0]
    flagged = [s for s in unauthenticated if s["anomalous"]]
    assert 1 <= len(flagged) <= max(3, len(unauthenticated) // 100), len(flagged)
    assert dmarc_rs.train(reports, seed=3, contamination=0.0).threshold == 0.5
    with pytest.raises(ValueError, match="contamination"):
        dmarc_rs.train(reports, contamination=0.7)
    aligned = [s for s in scores if s["source_ip"].startswith("198.51.100.")]
    assert all(s["score"] == 0.0 for s in aligned), "authenticated sources are not scored"
    # The same reports and seed give the same model; it survives JSON.
    again = dmarc_rs.train(reports, seed=3)
    assert again.to_json() == model.to_json()
    assert dmarc_rs.AnomalyModel.from_json(model.to_json()).score(reports) == scores
    broken = json.loads(model.to_json())
    broken["forest"]["format"] = 99
    with pytest.raises(ValueError, match="format"):
        dmarc_rs.AnomalyModel.from_json(json.dumps(broken))


def test_the_isolation_forest_over_any_matrix():
    rows = [[float(i % 7), float(i % 5)] for i in range(300)] + [[40.0, 40.0]]
    forest = dmarc_rs.IsolationForest(trees=50, sample_size=64, seed=1).fit(rows)
    scores = forest.score(rows)
    assert max(range(len(scores)), key=scores.__getitem__) == 300
    assert forest.to_bytes() == dmarc_rs.IsolationForest(50, 64, 1).fit(rows).to_bytes()
    with pytest.raises(ValueError, match="fit the forest first"):
        dmarc_rs.IsolationForest().score(rows)
    with pytest.raises(ValueError, match="columns"):
        forest.score([[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="same length"):
        dmarc_rs.IsolationForest().fit([[1.0], [1.0, 2.0]])
