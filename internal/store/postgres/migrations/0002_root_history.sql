-- 0002: root history (API reference §10: "true if root was ever enabled").
-- One row per instance, the first enabling; it goes with the instance.

CREATE TABLE root_history (
    instance_id text        NOT NULL PRIMARY KEY REFERENCES instances (id) ON DELETE CASCADE,
    user_id     text        NOT NULL DEFAULT '',
    enabled     timestamptz NOT NULL
);
