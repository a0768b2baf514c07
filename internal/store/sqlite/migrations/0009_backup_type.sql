-- 0009: backups record the label of their artifact's format
-- (model.Backup.Type, the API's "type"), named as Trove's column. Rows
-- written before have '': the service derives their label from the engine
-- of their datastore version when it reads them (engine knowledge stays
-- out of the schema).

ALTER TABLE backups ADD COLUMN backup_type TEXT NOT NULL DEFAULT '';
