package main

import (
	"fmt"
	"path/filepath"

	"github.com/hoard-db/hoard/internal/backup"
	"github.com/hoard-db/hoard/internal/service"
)

// setupBackups turns backups on: artifacts in --backup-storage (default
// <data-dir>/backups), scratch space in <data-dir>/backup-work (emptied at
// every start: nothing runs in it yet), the --max-backups quota.
func setupBackups(svc *service.Service, c *serveConfig, dataDir string) error {
	root := c.BackupStorage
	if root == "" {
		root = filepath.Join(dataDir, "backups")
	}
	st, err := backup.NewDir(root)
	if err != nil {
		return fmt.Errorf("--backup-storage: %w", err)
	}
	limit := c.MaxBackups
	if limit == 0 {
		limit = -1 // no quota
	}
	return svc.SetBackups(service.BackupConfig{
		Storage:    st,
		MaxBackups: limit,
		WorkDir:    filepath.Join(dataDir, "backup-work"),
	})
}
