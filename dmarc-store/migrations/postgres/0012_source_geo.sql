-- Where each source address is, as geolocation answered (dmarc-server's geo module): one
-- row per address, written in the ingest transaction by the pipeline's enrichment step and
-- by the refresh job. A row is looked up again after 90 days, or when `source` (the
-- databases that answered, with their build dates) is no longer the one configured.
-- Latitude and longitude are in millionths of a degree.
CREATE TABLE source_geo (
    ip           BYTEA   PRIMARY KEY,       -- 16-byte key (dmarc_core::ip_key)
    source_ip    TEXT    NOT NULL,
    country      TEXT,                      -- ISO 3166-1 alpha-2, upper case
    country_name TEXT,
    city         TEXT,
    lat_e6       BIGINT,
    lon_e6       BIGINT,
    asn          BIGINT,
    as_org       TEXT,
    resolved_at  BIGINT NOT NULL,
    source       TEXT    NOT NULL
);
CREATE INDEX source_geo_refresh ON source_geo (resolved_at);
