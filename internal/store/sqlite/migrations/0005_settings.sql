-- 0005: settings of the whole deployment, written once (e.g. the local
-- driver's node, whose data directory holds every engine).

CREATE TABLE settings (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);
