package backup

import (
	"path/filepath"
	"testing"
)

func TestTenantLocation(t *testing.T) {
	dir, err := NewDir(filepath.Join(t.TempDir(), "srv", "hoard", "backups"))
	if err != nil {
		t.Fatal(err)
	}
	s3, err := NewS3(S3Config{Endpoint: "10.0.0.7:9000", Bucket: "hoard-backups", Prefix: "prod/eu"})
	if err != nil {
		t.Fatal(err)
	}
	s3root, err := NewS3(S3Config{Endpoint: "minio.internal:9000", Bucket: "b", Secure: true})
	if err != nil {
		t.Fatal(err)
	}
	const key = "5f3c9d3e-8a1b-4c2d-9e0f-123456789abc.xbstream.gz"
	tests := []struct{ in, want string }{
		{dir.Location(key), "local:" + key},
		{s3.Location(key), "s3://hoard-backups/prod/eu/" + key},
		{s3root.Location(key), "s3://b/" + key},
		{"file:///var/lib/hoard/backups/" + key, "local:" + key}, // as stored by earlier versions
		{"/var/lib/hoard/backups/" + key, ""},                    // not a URL hoard writes
		{"file:///", ""},
		{"file:///x/.partial-1", ""},
		{"https://endpoint", ""},
		{"ftp://h/b/k", ""},
		{"", ""},
		{"%zz", ""},
	}
	for _, tt := range tests {
		if got := TenantLocation(tt.in); got != tt.want {
			t.Errorf("TenantLocation(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
