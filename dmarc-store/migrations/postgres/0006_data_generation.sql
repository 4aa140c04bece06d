-- A number every committed change of reports bumps (ingest, reprocess, purge): answers
-- computed from the data are cached under it, in every process that shares the database.
CREATE TABLE data_generation (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO data_generation (id, generation) VALUES (1, 0);
