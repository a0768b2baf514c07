package postgresql

import (
	"testing"

	"github.com/hoard-db/hoard/internal/datastore"
)

func TestArtifactFormat(t *testing.T) {
	var e datastore.Engine = New(Config{})
	want := datastore.ArtifactFormat{Type: "PgBaseBackup", IncrementalType: "", Ext: ".tar.gz"}
	if got := datastore.FormatOf(e); got != want {
		t.Errorf("FormatOf = %+v, want %+v", got, want)
	}
	// An incremental label exactly when incrementals can be made.
	if _, full := e.(datastore.FullBackupsOnly); full != (want.IncrementalType == "") {
		t.Errorf("FullBackupsOnly = %v with IncrementalType %q", full, want.IncrementalType)
	}
}
