package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/hoard-db/hoard/internal/backup"
	"github.com/hoard-db/hoard/internal/service"
)

// backupConfig turns backups on: artifacts in --backup-storage (default
// <data-dir>/backups; s3://bucket/prefix for an S3-compatible store, with
// HOARD_S3_ENDPOINT, HOARD_S3_REGION, HOARD_S3_ACCESS_KEY,
// HOARD_S3_SECRET_KEY and HOARD_S3_INSECURE=1 for plain http in the
// environment: secrets never on a command line), scratch space in
// <data-dir>/backup-work (what ended tasks left there is removed at start),
// the --max-backups quota.
func backupConfig(c *serveConfig, dataDir string) (service.BackupConfig, error) {
	st, err := backupStorage(c.BackupStorage, dataDir)
	if err != nil {
		return service.BackupConfig{}, fmt.Errorf("--backup-storage: %w", err)
	}
	limit := c.MaxBackups
	if limit == 0 {
		limit = -1 // no quota
	}
	return service.BackupConfig{
		Storage:    st,
		MaxBackups: limit,
		WorkDir:    filepath.Join(dataDir, "backup-work"),
	}, nil
}

func backupStorage(spec, dataDir string) (backup.Storage, error) {
	if !strings.HasPrefix(spec, "s3://") {
		if spec == "" {
			spec = filepath.Join(dataDir, "backups")
		}
		return backup.NewDir(spec)
	}
	u, err := url.Parse(spec)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("want s3://bucket[/prefix]")
	}
	return backup.NewS3(backup.S3Config{
		Endpoint:  os.Getenv("HOARD_S3_ENDPOINT"),
		Secure:    os.Getenv("HOARD_S3_INSECURE") != "1",
		Region:    os.Getenv("HOARD_S3_REGION"),
		Bucket:    u.Host,
		Prefix:    u.Path,
		AccessKey: os.Getenv("HOARD_S3_ACCESS_KEY"),
		SecretKey: os.Getenv("HOARD_S3_SECRET_KEY"),
	})
}
