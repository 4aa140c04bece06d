//! Geolocation: MaxMind's test databases (known answers in `tests/data/geoip/README.md`),
//! the bundled data (well-known addresses of large providers resolve to their networks),
//! places written at ingest, the 90-day refresh (on an injected clock) and a database file
//! replaced under a running server.

mod support;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use dmarc_core::{GeoInfo, GeoLookup};
use dmarc_server::config::GeoConfig;
use dmarc_server::geo::{Databases, Geo};
use dmarc_store::{Input, InputDone, Page, Role, Store, connect};
use reqwest::{Method, StatusCode};
use support::server::{Auth, corpus_files, start};

fn data(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/geoip")
        .join(name)
        .display()
        .to_string()
}

fn files_only(city: &str, asn: &str) -> GeoConfig {
    GeoConfig {
        city_db: city.to_owned(),
        asn_db: asn.to_owned(),
        bundled: false,
        ..GeoConfig::default()
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("an address")
}

fn lookup(dbs: &Databases, address: &str) -> GeoInfo {
    dbs.lookup(ip(address))
        .expect("the lookup answers")
        .unwrap_or_default()
}

#[test]
fn maxmind_test_databases_give_their_known_answers() {
    let dbs = Databases::open(&files_only(
        &data("GeoLite2-City-Test.mmdb"),
        &data("GeoLite2-ASN-Test.mmdb"),
    ))
    .expect("open");
    let london = lookup(&dbs, "81.2.69.142");
    assert_eq!(london.country_code.as_deref(), Some("GB"));
    assert_eq!(london.country_name.as_deref(), Some("United Kingdom"));
    assert_eq!(london.city.as_deref(), Some("London"));
    let (lat, lon) = (
        london.latitude.expect("lat"),
        london.longitude.expect("lon"),
    );
    assert!(
        (51.0..52.0).contains(&lat) && (-1.0..1.0).contains(&lon),
        "{lat} {lon}"
    );
    for (address, country, city) in [
        ("2.125.160.216", "GB", Some("Boxford")),
        ("89.160.20.112", "SE", Some("Linköping")),
        ("175.16.199.1", "CN", Some("Changchun")),
        ("216.160.83.57", "US", Some("Milton")),
        ("202.196.224.1", "PH", None),
        ("2001:218::1", "JP", None),
        ("2001:220::1", "KR", None),
    ] {
        let info = lookup(&dbs, address);
        assert_eq!(info.country_code.as_deref(), Some(country), "{address}");
        assert_eq!(info.city.as_deref(), city, "{address}");
    }
    for (address, asn, org) in [
        ("1.0.0.1", 15_169, "Google Inc."),
        ("1.128.0.0", 1_221, "Telstra Pty Ltd"),
        ("12.81.92.7", 7_018, "AT&T Services"),
    ] {
        let info = lookup(&dbs, address);
        assert_eq!(info.asn, Some(asn), "{address}");
        assert_eq!(info.as_org.as_deref(), Some(org), "{address}");
    }
    // Neither database knows a documentation address.
    assert_eq!(dbs.lookup(ip("192.0.2.1")).expect("answers"), None);
    let roles: Vec<&str> = dbs.infos().iter().map(|i| i.role.as_str()).collect();
    assert_eq!(roles, ["city", "asn"]);
    assert_eq!(dbs.infos()[0].database_type, "GeoLite2-City");

    // A Country database, and GeoIP2's City schema.
    for file in ["GeoLite2-Country-Test.mmdb", "GeoIP2-City-Test.mmdb"] {
        let dbs = Databases::open(&files_only(&data(file), "")).expect("open");
        assert_eq!(
            lookup(&dbs, "67.43.156.1").country_code.as_deref(),
            Some("BT"),
            "{file}"
        );
    }
}

#[test]
fn the_bundled_data_places_large_providers_without_any_file() {
    let dbs = Databases::open(&GeoConfig::default()).expect("open");
    for (address, asn, org, country) in [
        ("8.8.8.8", 15_169, "Google LLC", "US"),
        ("209.85.220.41", 15_169, "Google LLC", "US"),
        ("2a00:1450:4864:20::130", 15_169, "Google LLC", ""),
        ("40.107.22.100", 8_075, "Microsoft Corporation", ""),
        ("2a01:111:f400::1", 8_075, "Microsoft Corporation", ""),
        ("54.240.8.1", 14_618, "Amazon.com, Inc.", "US"),
        ("167.89.0.1", 11_377, "SendGrid, Inc.", "US"),
        ("13.111.0.1", 14_340, "Salesforce.com, Inc.", "US"),
        ("1.1.1.1", 13_335, "Cloudflare, Inc.", ""),
    ] {
        let info = lookup(&dbs, address);
        assert_eq!(info.asn, Some(asn), "{address}");
        assert_eq!(info.as_org.as_deref(), Some(org), "{address}");
        assert!(info.country_code.is_some(), "{address} has a country");
        if !country.is_empty() {
            assert_eq!(info.country_code.as_deref(), Some(country), "{address}");
        }
    }
    assert_eq!(dbs.lookup(ip("10.1.2.3")).expect("answers"), None);
    let infos = dbs.infos();
    assert!(infos.iter().all(|i| i.attribution.is_some()));
    // A configured file answers first; the bundled data fills what it lacks.
    let both = Databases::open(&GeoConfig {
        city_db: data("GeoLite2-City-Test.mmdb"),
        ..GeoConfig::default()
    })
    .expect("open");
    let info = lookup(&both, "81.2.69.142");
    assert_eq!(info.city.as_deref(), Some("London"));
    assert!(info.asn.is_some(), "the bundled table names its network");
    assert!(both.description().starts_with("city GeoLite2-City "));
    assert_eq!(both.source().len(), 16);
}

#[test]
fn unusable_configurations_say_why() {
    let missing = Databases::open(&files_only("/nonexistent/City.mmdb", "")).expect_err("missing");
    assert!(missing.0.contains("/nonexistent/City.mmdb"), "{missing}");
    let dir = tempfile::tempdir().expect("dir");
    let junk = dir.path().join("junk.mmdb");
    std::fs::write(&junk, b"not a database").expect("write");
    let error = Databases::open(&files_only(&junk.display().to_string(), "")).expect_err("junk");
    assert!(
        error.0.contains("junk.mmdb") && error.0.contains("not a MaxMind DB"),
        "{error}"
    );
    let off = GeoConfig {
        enabled: false,
        ..GeoConfig::default()
    };
    assert!(Geo::open(&off).expect("off").is_none());
    assert!(Geo::open(&files_only("", "")).expect("nothing").is_none());
}

/// A report from example.com's receivers with one record per address.
fn report(id: &str, addresses: &[&str]) -> Vec<u8> {
    let records: String = addresses
        .iter()
        .map(|a| {
            format!(
                "<record><row><source_ip>{a}</source_ip><count>3</count><policy_evaluated>\
                 <disposition>none</disposition><dkim>pass</dkim><spf>pass</spf>\
                 </policy_evaluated></row><identifiers><header_from>example.com</header_from>\
                 </identifiers></record>"
            )
        })
        .collect();
    format!(
        "<feedback><report_metadata><org_name>r</org_name><email>r@example.net</email>\
         <report_id>{id}</report_id><date_range><begin>1700000000</begin><end>1700086399</end>\
         </date_range></report_metadata><policy_published><domain>example.com</domain>\
         <p>none</p></policy_published>{records}</feedback>"
    )
    .into_bytes()
}

async fn ingest(store: &Store, geo: &Arc<Geo>, name: &str, bytes: Vec<u8>) -> Vec<InputDone> {
    let (sender, receiver) = tokio::sync::mpsc::channel(1);
    sender
        .send(Input {
            name: name.to_owned(),
            bytes: Ok(bytes),
        })
        .await
        .expect("send");
    drop(sender);
    let options = dmarc_store::PipelineOptions {
        enrich: Some(geo.clone()),
        ..dmarc_store::PipelineOptions::new(dmarc_core::ParseOptions::at(dmarc_store::unix_now()))
    };
    let mut done = Vec::new();
    dmarc_store::ingest_inputs(store.clone(), receiver, options, |d| done.push(d))
        .await
        .expect("ingest");
    done
}

async fn resolved_at(store: &Store, address: &str) -> (i64, String) {
    let places = store.places(&[ip(address)]).await.expect("places");
    let place = places.get(&ip(address)).expect("placed");
    (place.resolved_at, place.source.clone())
}

const DAY: i64 = 86_400;

#[tokio::test]
async fn places_are_written_at_ingest_and_refreshed_after_90_days() {
    let dir = tempfile::tempdir().expect("dir");
    let store = connect(&format!("sqlite://{}", dir.path().join("g.db").display()))
        .await
        .expect("store");
    let now = Arc::new(AtomicI64::new(1_800_000_000));
    let clock = now.clone();
    let config = files_only(
        &data("GeoLite2-City-Test.mmdb"),
        &data("GeoLite2-ASN-Test.mmdb"),
    );
    let geo = Geo::with_clock(&config, Arc::new(move || clock.load(Ordering::SeqCst)))
        .expect("open")
        .expect("on");
    let t0 = now.load(Ordering::SeqCst);

    ingest(
        &store,
        &geo,
        "a.xml",
        report("a", &["81.2.69.142", "1.128.0.0"]),
    )
    .await;
    let places = store
        .places(&[ip("81.2.69.142"), ip("1.128.0.0")])
        .await
        .expect("places");
    assert_eq!(
        places[&ip("81.2.69.142")].info.city.as_deref(),
        Some("London")
    );
    assert_eq!(places[&ip("1.128.0.0")].info.asn, Some(1_221));
    assert_eq!(resolved_at(&store, "81.2.69.142").await.0, t0);

    // 30 days on, the place is fresh: not looked up again.
    now.store(t0 + 30 * DAY, Ordering::SeqCst);
    ingest(&store, &geo, "b.xml", report("b", &["81.2.69.142"])).await;
    assert_eq!(resolved_at(&store, "81.2.69.142").await.0, t0);
    let refreshed = geo.refresh(&store).await.expect("refresh");
    assert_eq!(refreshed.looked_up, 0, "nothing is stale yet");

    // 91 days on: looked up again when it comes again...
    now.store(t0 + 91 * DAY, Ordering::SeqCst);
    ingest(&store, &geo, "c.xml", report("c", &["81.2.69.142"])).await;
    assert_eq!(resolved_at(&store, "81.2.69.142").await.0, t0 + 91 * DAY);
    assert_eq!(resolved_at(&store, "1.128.0.0").await.0, t0);
    // ...and by the refresh job when it does not.
    let refreshed = geo.refresh(&store).await.expect("refresh");
    assert_eq!((refreshed.looked_up, refreshed.placed), (1, 1));
    assert_eq!(resolved_at(&store, "1.128.0.0").await.0, t0 + 91 * DAY);
}

#[tokio::test]
async fn a_replaced_database_file_is_reopened_and_places_looked_up_again() {
    let dir = tempfile::tempdir().expect("dir");
    let store = connect(&format!("sqlite://{}", dir.path().join("g.db").display()))
        .await
        .expect("store");
    let file: PathBuf = dir.path().join("City.mmdb");
    std::fs::copy(data("GeoLite2-Country-Test.mmdb"), &file).expect("copy");
    let geo = Geo::open(&files_only(&file.display().to_string(), ""))
        .expect("open")
        .expect("on");
    ingest(
        &store,
        &geo,
        "a.xml",
        report("a", &["81.2.69.142", "89.160.20.112"]),
    )
    .await;
    let (_, before) = resolved_at(&store, "81.2.69.142").await;
    assert_eq!(before, geo.databases().source());
    assert!(!geo.reload_if_changed().expect("check"), "unchanged");

    // The file is replaced by a City database (as a monthly update would).
    std::fs::copy(data("GeoLite2-City-Test.mmdb"), &file).expect("replace");
    assert!(geo.reload_if_changed().expect("check"), "changed");
    let refreshed = geo.refresh(&store).await.expect("refresh");
    assert_eq!(refreshed.looked_up, 2, "every place came from the old file");
    let places = store
        .places(&[ip("81.2.69.142"), ip("89.160.20.112")])
        .await
        .expect("places");
    assert_eq!(
        places[&ip("81.2.69.142")].info.city.as_deref(),
        Some("London")
    );
    assert_eq!(
        places[&ip("89.160.20.112")].info.city.as_deref(),
        Some("Linköping")
    );
    assert!(geo.databases().description().contains("GeoLite2-City"));
    assert!(
        places
            .values()
            .all(|p| p.source == geo.databases().source())
    );
    assert_ne!(geo.databases().source(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_placed_and_the_map_sums_them_per_country() {
    let city = data("GeoLite2-City-Test.mmdb");
    let server = start(dmarc_store::testing::sqlite(), |c| {
        c.geo.city_db = city.clone()
    })
    .await;
    server.user("geo@example.com", Role::Viewer).await;
    let viewer = Auth::Bearer(server.tokens("geo@example.com").await.0);
    server.user("up@example.com", Role::Analyst).await;
    let analyst = Auth::Bearer(server.tokens("up@example.com").await.0);
    let uploaded = server.upload(&analyst, &corpus_files()).await;
    assert_eq!(uploaded.status, StatusCode::OK, "{}", uploaded.body);

    // Every source address of the corpus was placed at ingest, as the databases say.
    let dbs = Databases::open(&GeoConfig {
        city_db: city.clone(),
        ..GeoConfig::default()
    })
    .expect("open");
    let sources = server
        .store
        .by_source(&dmarc_core::Filter::default(), Page::first(Page::MAX_LIMIT))
        .await
        .expect("sources");
    let ips: Vec<IpAddr> = sources.items.iter().filter_map(|g| g.source_ip).collect();
    let places = server.store.places(&ips).await.expect("places");
    let missing: Vec<&IpAddr> = ips.iter().filter(|ip| !places.contains_key(ip)).collect();
    assert!(missing.is_empty(), "every address is placed: {missing:?}");
    let mut want: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for group in &sources.items {
        let country = group
            .source_ip
            .and_then(|ip| dbs.lookup(ip).expect("lookup"))
            .and_then(|info| info.country_code)
            .unwrap_or_default();
        let entry = want.entry(country).or_default();
        entry.0 += group.tally.messages;
        entry.1 += group.tally.dmarc_fail;
        entry.2 += 1;
    }
    assert!(
        want.len() > 3,
        "the corpus comes from several countries: {want:?}"
    );

    let map = server
        .call(Method::GET, "/analytics/geolocation/map", &viewer, None)
        .await;
    assert_eq!(map.status, StatusCode::OK, "{}", map.body);
    let got: BTreeMap<String, (u64, u64, u64)> = map.body["countries"]
        .as_array()
        .expect("countries")
        .iter()
        .map(|c| {
            (
                c["country"].as_str().unwrap_or_default().to_owned(),
                (
                    c["messages"].as_u64().expect("messages"),
                    c["dmarc_fail"].as_u64().expect("failures"),
                    c["sources"].as_u64().expect("sources"),
                ),
            )
        })
        .collect();
    assert_eq!(got, want);
    let roles: Vec<&str> = map.body["databases"]
        .as_array()
        .expect("databases")
        .iter()
        .map(|d| d["role"].as_str().expect("role"))
        .collect();
    assert_eq!(roles, ["city", "bundled-country", "bundled-asn"]);

    // A country's addresses, as the sources page lists them: the map's figures.
    for (country, (messages, _, sources)) in got.iter().filter(|(c, _)| !c.is_empty()).take(3) {
        let page = server
            .call(
                Method::GET,
                &format!(
                    "/api/sources?preset=all&limit=1000&country={}",
                    country.to_lowercase()
                ),
                &viewer,
                None,
            )
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let items = page.body["items"].as_array().expect("items");
        assert_eq!(page.body["total"].as_u64(), Some(*sources), "{country}");
        let sum: u64 = items
            .iter()
            .map(|i| i["messages"].as_u64().expect("messages"))
            .sum();
        assert_eq!(sum, *messages, "{country}");
        assert!(
            items
                .iter()
                .all(|i| i["location"]["country_code"] == country.as_str())
        );
    }
    let bad = server
        .call(Method::GET, "/api/sources?country=USA", &viewer, None)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);

    // One address: the file's city, the bundled network.
    let one = server
        .call(
            Method::GET,
            "/analytics/geolocation/lookup/81.2.69.142",
            &viewer,
            None,
        )
        .await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    assert_eq!(one.body["location"]["city"], "London");
    assert_eq!(one.body["location"]["country_code"], "GB");
    assert!(
        one.body["stored_at"].is_null(),
        "not a source of the corpus"
    );
    let stored = ips[0].to_string();
    let known = server
        .call(
            Method::GET,
            &format!("/analytics/geolocation/lookup/{stored}"),
            &viewer,
            None,
        )
        .await;
    assert!(known.body["stored_at"].as_i64().is_some(), "{}", known.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_geolocation_the_endpoints_say_so_and_the_rest_works() {
    let server = start(dmarc_store::testing::sqlite(), |c| c.geo.enabled = false).await;
    server.user("off@example.com", Role::Analyst).await;
    let auth = Auth::Bearer(server.tokens("off@example.com").await.0);
    for path in [
        "/analytics/geolocation/map",
        "/analytics/geolocation/lookup/8.8.8.8",
    ] {
        let answer = server.call(Method::GET, path, &auth, None).await;
        assert_eq!(answer.status, StatusCode::CONFLICT, "{path}");
        let message = answer.body["error"]["message"].as_str().expect("message");
        assert!(
            message.contains("geolocation is not configured"),
            "{message}"
        );
    }
    let uploaded = server.upload(&auth, &corpus_files()[..5]).await;
    assert_eq!(uploaded.status, StatusCode::OK, "{}", uploaded.body);
    let summary = server
        .call(Method::GET, "/api/rollup/summary", &auth, None)
        .await;
    assert!(summary.body["messages"].as_u64().expect("messages") > 0);
}

/// One record: `(address, messages, aligned DKIM, aligned SPF, passing DKIM domains,
/// override reason as (type, comment))`.
type Row<'a> = (
    &'a str,
    u64,
    bool,
    bool,
    &'a [&'a str],
    Option<(&'a str, &'a str)>,
);

/// A report for `domain` with `rows`.
fn report_of(id: &str, domain: &str, rows: &[Row<'_>]) -> String {
    let verdict = |pass: bool| if pass { "pass" } else { "fail" };
    let records: String = rows
        .iter()
        .map(|(ip, count, dkim, spf, signed, reason)| {
            let reason = reason
                .map(|(kind, comment)| {
                    format!("<reason><type>{kind}</type><comment>{comment}</comment></reason>")
                })
                .unwrap_or_default();
            let signatures: String = signed
                .iter()
                .map(|d| format!("<dkim><domain>{d}</domain><result>pass</result></dkim>"))
                .collect();
            format!(
                "<record><row><source_ip>{ip}</source_ip><count>{count}</count><policy_evaluated>\
                 <disposition>none</disposition><dkim>{}</dkim><spf>{}</spf>{reason}\
                 </policy_evaluated></row><identifiers><header_from>{domain}</header_from>\
                 </identifiers><auth_results>{signatures}<spf><domain>{domain}</domain>\
                 <result>{}</result></spf></auth_results></record>",
                verdict(*dkim),
                verdict(*spf),
                verdict(*spf),
            )
        })
        .collect();
    format!(
        "<feedback><report_metadata><org_name>r</org_name><email>r@example.net</email>\
         <report_id>{id}</report_id><date_range><begin>1700000000</begin><end>1700086399</end>\
         </date_range></report_metadata><policy_published><domain>{domain}</domain>\
         <p>reject</p></policy_published>{records}</feedback>"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_name_the_service_behind_them_and_classify_them_per_domain() {
    let server = start(dmarc_store::testing::sqlite(), |c| {
        c.senders = vec![dmarc_core::senders::Service {
            name: "Our CRM".into(),
            asns: vec![],
            dkim_domains: vec!["crm.example.net".into()],
        }]
    })
    .await;
    server.user("id@example.com", Role::Analyst).await;
    let auth = Auth::Bearer(server.tokens("id@example.com").await.0);
    let arc = Some(("local_policy", "arc=pass as.1.google.com=pass"));
    let com: &[Row<'_>] = &[
        // Google's network, aligned DKIM.
        ("209.85.220.41", 40, true, false, &["example.com"], None),
        // SendGrid signing with its own domain only, SPF not aligned.
        ("167.89.0.1", 30, false, false, &["em7.sendgrid.net"], None),
        // Salesforce's network, nothing aligned, no signature.
        ("13.111.0.1", 20, false, false, &[], None),
        // A mailing list re-signing.
        (
            "198.51.100.7",
            8,
            false,
            false,
            &["lists.example.org"],
            None,
        ),
        // A forwarder the reporter trusted through ARC.
        ("203.0.113.9", 6, false, false, &[], arc),
        // Nobody known.
        ("192.0.2.99", 5, false, false, &[], None),
        // The user's own entry.
        (
            "198.51.100.20",
            4,
            false,
            false,
            &["mail.crm.example.net"],
            None,
        ),
    ];
    // SendGrid's address is aligned for the other domain.
    let org: &[Row<'_>] = &[("167.89.0.1", 12, true, true, &["example.org"], None)];
    let dir = tempfile::tempdir().expect("dir");
    let files = [
        ("com.xml", report_of("c1", "example.com", com)),
        ("org.xml", report_of("o1", "example.org", org)),
    ];
    let paths: Vec<PathBuf> = files
        .iter()
        .map(|(name, xml)| {
            let path = dir.path().join(name);
            std::fs::write(&path, xml).expect("write");
            path
        })
        .collect();
    let uploaded = server.upload(&auth, &paths).await;
    assert_eq!(uploaded.status, StatusCode::OK, "{}", uploaded.body);

    let page = server
        .call(Method::GET, "/api/sources?limit=50", &auth, None)
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let items = page.body["items"].as_array().expect("items");
    let of = |ip: &str| {
        items
            .iter()
            .find(|i| i["source_ip"] == ip)
            .unwrap_or_else(|| panic!("{ip} in {items:?}"))
    };
    // (address, domain, class, service, matched by)
    let want = [
        (
            "209.85.220.41",
            "example.com",
            "aligned_sender",
            Some(("Google Workspace", "asn")),
        ),
        (
            "167.89.0.1",
            "example.com",
            "known_service_not_aligned",
            Some(("SendGrid", "dkim")),
        ),
        (
            "167.89.0.1",
            "example.org",
            "aligned_sender",
            Some(("SendGrid", "asn")),
        ),
        (
            "13.111.0.1",
            "example.com",
            "known_service_not_aligned",
            Some(("Salesforce", "asn")),
        ),
        ("198.51.100.7", "example.com", "forwarder", None),
        ("203.0.113.9", "example.com", "forwarder", None),
        ("192.0.2.99", "example.com", "unknown", None),
        (
            "198.51.100.20",
            "example.com",
            "known_service_not_aligned",
            Some(("Our CRM", "dkim")),
        ),
    ];
    for (ip, domain, class, service) in want {
        let senders = of(ip)["senders"].as_array().expect("senders");
        let one = senders
            .iter()
            .find(|s| s["domain"] == domain)
            .unwrap_or_else(|| panic!("{ip} for {domain}: {senders:?}"));
        assert_eq!(one["class"], class, "{ip} for {domain}: {one}");
        let got = one["service"].as_object().map(|s| {
            (
                s["name"].as_str().unwrap(),
                s["matched_by"].as_str().unwrap(),
            )
        });
        assert_eq!(got, service, "{ip} for {domain}: {one}");
    }
    // The busiest domain comes first; the evidence is there.
    let sendgrid = of("167.89.0.1");
    assert_eq!(sendgrid["senders"][0]["domain"], "example.com");
    assert_eq!(sendgrid["senders"][0]["messages"], 30);
    assert_eq!(
        sendgrid["senders"][0]["dkim_domains"]["em7.sendgrid.net"],
        30
    );
    assert_eq!(of("203.0.113.9")["senders"][0]["forwarding_overrides"], 6);
    assert_eq!(sendgrid["location"]["asn"], 11377);
    // A filter on the domain classifies for that domain only.
    let org_only = server
        .call(Method::GET, "/api/sources?domain=example.org", &auth, None)
        .await;
    let senders = &org_only.body["items"][0]["senders"];
    assert_eq!(senders.as_array().map(Vec::len), Some(1), "{senders}");
    assert_eq!(senders[0]["class"], "aligned_sender");

    // The lookup names the service: by its signatures, else by its network.
    for (ip, name, by) in [
        ("167.89.0.1", "SendGrid", "dkim"),
        ("40.107.22.100", "Microsoft 365", "asn"),
    ] {
        let one = server
            .call(
                Method::GET,
                &format!("/analytics/geolocation/lookup/{ip}"),
                &auth,
                None,
            )
            .await;
        assert_eq!(one.body["service"]["name"], name, "{}", one.body);
        assert_eq!(one.body["service"]["matched_by"], by, "{}", one.body);
    }
    let nobody = server
        .call(
            Method::GET,
            "/analytics/geolocation/lookup/192.0.2.99",
            &auth,
            None,
        )
        .await;
    assert!(nobody.body["service"].is_null(), "{}", nobody.body);
}
