package service

import (
	"context"
	"errors"

	"github.com/hoard-db/hoard/internal/backup"
	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// Backups are labelled and their artifacts named by their engine's
// datastore.ArtifactFormat. Backups recorded before that have no Type and
// their artifact is "<id>.xbstream.gz" whatever the engine: reads label
// them from their engine, and artifacts are found through the recorded
// Location first (backup.Keys).

// artifactKey is the key the artifact of a new backup id of engine eng
// is stored under: the id with the extension of the engine's format.
func artifactKey(id string, eng datastore.Engine) string {
	return id + datastore.FormatOf(eng).Ext
}

// backupFormats returns the artifact formats of the engines of the
// catalogue's datastore versions, by version id; a version whose engine
// is not available here has none.
func (s *Backups) backupFormats(ctx context.Context) (map[string]datastore.ArtifactFormat, error) {
	all, err := s.st.ListDatastores(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]datastore.ArtifactFormat)
	for _, d := range all {
		for _, v := range d.Versions {
			if e, ok := s.cfg.Engines[v.Engine]; ok {
				out[v.ID] = datastore.FormatOf(e)
			}
		}
	}
	return out, nil
}

// artifactKeys returns the keys backup b's artifact may be stored under,
// the likeliest first (backup.Keys): that of its Location, the one its
// engine's format gives a new artifact, the legacy one.
func (s *Backups) artifactKeys(ctx context.Context, b *model.Backup) []string {
	ext := ""
	if fs, err := s.backupFormats(ctx); err == nil {
		ext = fs[b.DatastoreVersionID].Ext
	}
	return backup.Keys(s.cfg.Backups.Storage, b.ID, b.Location, ext)
}

// storedArtifactKey returns the key backup b's artifact is stored under,
// to read it: the first of its artifactKeys that holds one, else the
// first, whose read then fails as a missing (or unreachable) artifact.
func (s *Backups) storedArtifactKey(ctx context.Context, b *model.Backup) string {
	k, _ := backup.Find(ctx, s.cfg.Backups.Storage, s.artifactKeys(ctx, b))
	return k
}

// deleteArtifacts removes whatever artifact backup id has, under any of
// its artifactKeys: a backup that did not complete has no Location, but
// may have an artifact stored before its record was updated. A backup no
// longer recorded is left alone.
func (s *Backups) deleteArtifacts(ctx context.Context, id string) error {
	b, err := s.bs.GetBackup(ctx, "", id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return backup.DeleteAll(ctx, s.cfg.Backups.Storage, s.artifactKeys(ctx, b))
}

// labelledBackups is the store's backups as the service reads them: a
// backup recorded without a Type (before migration 0009, when every
// backup was shown as InnoBackupEx) is given its engine's label, that of
// the engine of its datastore version, when it is read. Nothing is
// written: such a row keeps no Type, and is labelled again on each read.
// The label is left empty if the version or its engine is unknown here.
type labelledBackups struct {
	store.Backups
	s *Backups
}

// GetBackup implements store.Backups.
func (l labelledBackups) GetBackup(ctx context.Context, tenantID, id string) (*model.Backup, error) {
	b, err := l.Backups.GetBackup(ctx, tenantID, id)
	if err == nil {
		l.s.labelBackups(ctx, b)
	}
	return b, err
}

// ListBackups implements store.Backups.
func (l labelledBackups) ListBackups(ctx context.Context, f store.BackupFilter, offset, limit int) ([]*model.Backup, error) {
	list, err := l.Backups.ListBackups(ctx, f, offset, limit)
	if err == nil {
		l.s.labelBackups(ctx, list...)
	}
	return list, err
}

// labelBackups gives the backups without a Type their engine's label.
func (s *Backups) labelBackups(ctx context.Context, bs ...*model.Backup) {
	var fs map[string]datastore.ArtifactFormat
	for _, b := range bs {
		if b.Type != "" {
			continue
		}
		if fs == nil {
			var err error
			if fs, err = s.backupFormats(ctx); err != nil {
				s.log.Warn("label backups recorded without a type", "backup_id", b.ID, "err", err)
				return
			}
		}
		if f, ok := fs[b.DatastoreVersionID]; ok {
			b.Type = f.Label(b.ParentID != "")
		}
	}
}
