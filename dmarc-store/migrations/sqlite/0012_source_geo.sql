-- Where each source address is, as geolocation answered (dmarc-server's geo module): one
-- row per address, written by the ingest pipeline behind the reports (what its enrichment
-- step found) and by the refresh job. A row is looked up again after 90 days, or when `source` (a digest
-- of the databases that answered and their versions) is no longer the configured one.
-- Latitude and longitude are in millionths of a degree. Rows are kept small (they are
-- written at ingest, one per new address): the address only as its key, the name of a
-- network once in `geo_networks`, and only the key indexed (the refresh job's scan for
-- stale rows runs once a day).
CREATE TABLE source_geo (
    ip           BLOB    PRIMARY KEY,      -- 16-byte key (dmarc_core::ip_key)
    country      TEXT,                      -- ISO 3166-1 alpha-2, upper case
    country_name TEXT,
    city         TEXT,
    lat_e6       INTEGER,
    lon_e6       INTEGER,
    asn          INTEGER,
    resolved_at  INTEGER NOT NULL,
    source       TEXT    NOT NULL
) WITHOUT ROWID;

-- The organisation of each network (autonomous system) as geolocation last named it.
CREATE TABLE geo_networks (
    asn          INTEGER PRIMARY KEY,
    as_org       TEXT    NOT NULL
);
