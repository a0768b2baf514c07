package service

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/hoard-db/hoard/internal/backup"
	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
)

// fakeFormat is the artifact format of backupEngine.
var fakeFormat = datastore.ArtifactFormat{Type: "FakeBackup", IncrementalType: "FakeBackupIncremental", Ext: ".fake.gz"}

// ArtifactFormat implements datastore.ArtifactFormatter.
func (e *backupEngine) ArtifactFormat() datastore.ArtifactFormat { return fakeFormat }

// TestBackupArtifactFormat checks that new backups are labelled and their
// artifacts named by their engine's format.
func TestBackupArtifactFormat(t *testing.T) {
	e := newBackupEnv(t, 0)
	ctx := context.Background()
	id := e.active(t, basicRequest())
	full, err := e.svc.CreateBackup(ctx, "t1", CreateBackupRequest{Name: "full", InstanceID: id})
	if err != nil {
		t.Fatal(err)
	}
	if full.Type != "FakeBackup" {
		t.Errorf("new backup type %q, want FakeBackup", full.Type)
	}
	full = e.waitBackup(t, full.ID, model.BackupCompleted)
	(&env{svc: e.svc, st: e.st}).waitStatus(t, id, model.StatusActive)
	inc, err := e.svc.CreateBackup(ctx, "t1", CreateBackupRequest{Name: "inc", InstanceID: id, Incremental: true})
	if err != nil {
		t.Fatal(err)
	}
	inc = e.waitBackup(t, inc.ID, model.BackupCompleted)
	for _, tc := range []struct {
		b    *model.Backup
		want string
	}{{full, "FakeBackup"}, {inc, "FakeBackupIncremental"}} {
		if tc.b.Type != tc.want {
			t.Errorf("backup %s: type %q, want %q", tc.b.Name, tc.b.Type, tc.want)
		}
		key := tc.b.ID + ".fake.gz"
		if tc.b.Location != e.storage.Location(key) {
			t.Errorf("backup %s: location %q, want that of %s", tc.b.Name, tc.b.Location, key)
		}
		if _, err := e.storage.Stat(ctx, key); err != nil {
			t.Errorf("artifact %s: %v", key, err)
		}
		if _, err := e.storage.Stat(ctx, tc.b.ID+backup.LegacyExt); !errors.Is(err, backup.ErrNotFound) {
			t.Errorf("artifact under the legacy key: %v, want none", err)
		}
	}
}

// moveArtifact moves the artifact under key from to key to.
func moveArtifact(t *testing.T, st backup.Storage, from, to string) {
	t.Helper()
	ctx := context.Background()
	rc, err := st.Get(ctx, from)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := st.Put(ctx, to, rc); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, from); err != nil {
		t.Fatal(err)
	}
}

// TestOldFormatBackups checks backups recorded before artifacts were
// named by format: no type, the artifact under <id>.xbstream.gz. They are
// labelled by their engine, restored from their recorded location (or,
// if the storage moved, from the legacy key) and deleted with their
// artifact.
func TestOldFormatBackups(t *testing.T) {
	e := newBackupEnv(t, 0)
	ctx := context.Background()
	id := e.active(t, basicRequest())
	var olds []*model.Backup
	for _, name := range []string{"full", "inc"} {
		b, err := e.svc.CreateBackup(ctx, "t1", CreateBackupRequest{Name: name, InstanceID: id, Incremental: name == "inc"})
		if err != nil {
			t.Fatal(err)
		}
		e.waitBackup(t, b.ID, model.BackupCompleted)
		(&env{svc: e.svc, st: e.st}).waitStatus(t, id, model.StatusActive)
		// Make it what an earlier hoard recorded.
		legacy := b.ID + backup.LegacyExt
		moveArtifact(t, e.storage, b.ID+".fake.gz", legacy)
		loc := e.storage.Location(legacy)
		if name == "inc" {
			loc = "file:///moved/away/" + legacy // the backup directory moved since
		}
		if _, err := e.st.UpdateBackup(ctx, b.ID, func(b *model.Backup) error {
			b.Type, b.Location = "", loc
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		olds = append(olds, b)
	}

	for i, want := range []string{"FakeBackup", "FakeBackupIncremental"} {
		b, err := e.svc.GetBackup(ctx, "t1", olds[i].ID)
		if err != nil || b.Type != want {
			t.Errorf("GetBackup(old %s) = type %q, %v; want %s", olds[i].Name, b.Type, err, want)
		}
	}
	list, _, err := e.svc.ListInstanceBackups(ctx, "t1", id, 0, 10)
	if err != nil || len(list) != 2 {
		t.Fatalf("ListInstanceBackups = %d backups, %v; want 2", len(list), err)
	}
	for _, b := range list { // created in the same second: in either order
		want := "FakeBackup"
		if b.ParentID != "" {
			want = "FakeBackupIncremental"
		}
		if b.Type != want {
			t.Errorf("listed old backup %s: type %q, want %q", b.Name, b.Type, want)
		}
	}
	if stored, _ := e.st.GetBackup(ctx, "", olds[0].ID); stored.Type != "" {
		t.Errorf("reading labelled the stored row: %q", stored.Type)
	}

	req := CreateInstanceRequest{Name: "r", FlavorRef: "1", VolumeSize: 1, RestoreBackupID: olds[1].ID}
	d, err := e.svc.CreateInstance(ctx, "t1", req)
	if err != nil {
		t.Fatal(err)
	}
	(&env{svc: e.svc, st: e.st}).waitStatus(t, d.ID, model.StatusActive)
	e.eng.mu.Lock()
	got := strings.Join(e.eng.restored, "|")
	e.eng.mu.Unlock()
	if want := "full of " + id + "|incremental on " + olds[0].ID + " lsn 42"; got != want {
		t.Errorf("restored chain %q, want %q", got, want)
	}

	if err := e.svc.DeleteBackup(ctx, "t1", olds[0].ID); err != nil {
		t.Fatal(err)
	}
	for _, b := range olds {
		if _, err := e.storage.Stat(ctx, b.ID+backup.LegacyExt); !errors.Is(err, backup.ErrNotFound) {
			t.Errorf("artifact of old backup %s: %v, want gone", b.Name, err)
		}
	}
}

// TestDeleteUnfinishedBackupArtifacts checks that deleting a backup that
// never completed (no location) removes the artifact it may have left,
// under its format's key or the legacy one.
func TestDeleteUnfinishedBackupArtifacts(t *testing.T) {
	e := newBackupEnv(t, 0)
	ctx := context.Background()
	id := e.active(t, basicRequest())
	b, err := e.svc.CreateBackup(ctx, "t1", CreateBackupRequest{Name: "b", InstanceID: id})
	if err != nil {
		t.Fatal(err)
	}
	done := e.waitBackup(t, b.ID, model.BackupCompleted)
	(&env{svc: e.svc, st: e.st}).waitStatus(t, id, model.StatusActive)
	for _, ext := range []string{fakeFormat.Ext, backup.LegacyExt} {
		u := *done
		u.ID, u.Name, u.Status, u.Location, u.Fault = "unfinished"+ext, "u", model.BackupFailed, "", "failed"
		if err := e.st.InsertBackup(ctx, &u); err != nil {
			t.Fatal(err)
		}
		key := u.ID + ext
		if _, err := e.storage.Put(ctx, key, strings.NewReader("stored before the record was updated")); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.DeleteBackup(ctx, "t1", u.ID); err != nil {
			t.Fatalf("DeleteBackup(%s) = %v", u.ID, err)
		}
		if _, err := e.storage.Stat(ctx, key); !errors.Is(err, backup.ErrNotFound) {
			t.Errorf("artifact %s of the unfinished backup: %v, want gone", key, err)
		}
		_, err := e.svc.GetBackup(ctx, "t1", u.ID)
		wantKind(t, "GetBackup(deleted)", err, fault.NotFound)
	}
	// The completed backup's artifact was left alone.
	rc, err := backup.Open(ctx, e.storage, done.ID+fakeFormat.Ext)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if got, _ := io.ReadAll(rc); !strings.HasPrefix(string(got), "full of ") {
		t.Errorf("completed artifact reads %q", got)
	}
}
