package postgresql

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/engineproc"
	"github.com/hoard-db/hoard/internal/fault"
)

var (
	_ datastore.Backuper        = (*Engine)(nil)
	_ datastore.FullBackupsOnly = (*Engine)(nil)
)

// Meta keys and values recorded with a backup.
const (
	MetaBackupType = "backup_type"
	MetaFormat     = "format"
	// FormatBaseTar is a pg_basebackup tar of the data directory with the
	// WAL needed to make it consistent (-Ft -Xf).
	FormatBaseTar = "pg_basebackup-tar"
)

const basebackupProgram = "pg_basebackup"

// FullBackupsOnly implements datastore.FullBackupsOnly: pg_basebackup
// copies the whole cluster; PostgreSQL 15 has no incremental backups.
func (e *Engine) FullBackupsOnly() {}

// errIncremental is the refusal of an incremental backup or restore.
func errIncremental(op string) error {
	return fault.New(fault.NotImplemented, op, "Incremental backups are not supported by datastore postgresql.")
}

// Backup implements datastore.Backuper with pg_basebackup (engines.md §4):
//
//	pg_basebackup -h <socket dir> -p <port> -U os_admin -w -D - -Ft -Xf -c fast --no-manifest
//
// a tar of the data directory on stdout, taken from the running server
// over a replication connection (pg_hba.conf has "local replication all
// scram-sha-256"), with the WAL written during the copy (-X fetch), so the
// copy is consistent on its own. The server keeps serving; -c fast asks
// for an immediate checkpoint. The password is in a 0600 PGPASSFILE in
// work, never on the command line or in the environment. Only full
// backups: a parent gives fault.NotImplemented.
func (e *Engine) Backup(ctx context.Context, c datastore.Conn, spec datastore.Spec, work string, w io.Writer, parent *datastore.BackupRef) (map[string]string, error) {
	const op = "postgresql.backup"
	if parent != nil {
		return nil, errIncremental(op)
	}
	sock := c.Socket
	if sock == "" {
		sock = socketPath(spec)
	}
	if !filepath.IsAbs(sock) {
		return nil, fault.New(fault.Invalid, op, "the server's socket must be an absolute path")
	}
	user := c.User
	if user == "" {
		user = adminUser
	}
	pass := filepath.Join(work, "pgpass")
	if err := writePassFile(pass, user, c.Password); err != nil {
		return nil, fmt.Errorf("postgresql: backup: %w", err)
	}
	port := strconv.Itoa(int(socketPort(datastore.Conn{Socket: sock, Port: c.Port})))
	args := []string{"-h", filepath.Dir(sock), "-p", port, "-U", user, "-w",
		"-D", "-", "-Ft", "-Xf", "-c", "fast", "--no-manifest"}
	if err := e.runTool(ctx, basebackupProgram, args, []string{"PGPASSFILE=" + pass}, nil, w); err != nil {
		return nil, fmt.Errorf("postgresql: backup: %w", err)
	}
	return map[string]string{MetaBackupType: "full", MetaFormat: FormatBaseTar}, nil
}

// Restore implements datastore.Backuper: the tar of the (single, full)
// backup is unpacked into spec.DataDir. At its first start the server
// finds backup_label and replays the WAL in the copy up to the end of the
// backup, then runs normally with hoard's configuration (hba_file and the
// rest come from ConfDir, not from the copied files; Prepare removes a
// copied postgresql.auto.conf).
func (e *Engine) Restore(ctx context.Context, spec datastore.Spec, work string, chain []io.Reader) error {
	const op = "postgresql.restore"
	switch {
	case len(chain) == 0:
		return fault.New(fault.Invalid, op, "nothing to restore")
	case len(chain) > 1:
		return errIncremental(op)
	}
	if spec.DataDir == "" || !filepath.IsAbs(spec.DataDir) {
		return fault.New(fault.Invalid, op, "the data directory must be an absolute path")
	}
	n, err := extractTar(ctx, chain[0], spec.DataDir, nil)
	if err != nil {
		return fmt.Errorf("postgresql: restore: %w", err)
	}
	if _, err := os.Stat(filepath.Join(spec.DataDir, "PG_VERSION")); err != nil || n == 0 {
		return fault.New(fault.Invalid, op, "the backup holds no PostgreSQL data directory")
	}
	return nil
}

// writePassFile writes a libpq password file with one line for user on
// any host, port and database. ':' and '\' are escaped as libpq expects.
func writePassFile(path, user string, pw datastore.Secret) error {
	if strings.ContainsAny(user+string(pw), "\n\r\x00") {
		return errors.New("the account or password contains a line break")
	}
	esc := strings.NewReplacer(`\`, `\\`, `:`, `\:`)
	line := "*:*:*:" + esc.Replace(user) + ":" + esc.Replace(string(pw)) + "\n"
	return os.WriteFile(path, []byte(line), 0o600)
}

// runTool runs a PostgreSQL client program of the newest major in its own
// process group (killed as a group when ctx ends or hoard dies), with a
// clean environment plus env; a failure quotes the end of its stderr.
func (e *Engine) runTool(ctx context.Context, name string, args, env []string, stdin io.Reader, stdout io.Writer) error {
	cmd := exec.CommandContext(ctx, e.program(name), args...)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8"}, env...)
	cmd.Stdin, cmd.Stdout = stdin, stdout
	var stderr engineproc.Tail
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%s: %w: %s", name, err, stderr.LastLines(8))
	}
	e.log.Debug("tool done", "tool", name)
	return nil
}

// extractTar unpacks the directories and regular files of a tar stream
// under dir and returns how many files it wrote. Names must be relative
// and stay inside dir; links, devices and the like are refused, so a
// crafted archive cannot write outside dir. allow, when not nil, is the
// set of names accepted (others are refused). Directories get mode 0700
// and files 0600 (PostgreSQL wants nothing more).
func extractTar(ctx context.Context, r io.Reader, dir string, allow map[string]bool) (int, error) {
	tr := tar.NewReader(r)
	files := 0
	for {
		if err := ctx.Err(); err != nil {
			return files, err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return files, fmt.Errorf("read backup: %w", err)
		}
		name, err := tarName(h.Name)
		if err != nil {
			return files, err
		}
		if name == "." {
			continue
		}
		if allow != nil && !allow[name] {
			return files, fmt.Errorf("unexpected entry %.80q in the backup", name)
		}
		target := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o700); err != nil {
				return files, err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
				return files, err
			}
			if err := writeFile(target, tr); err != nil {
				return files, err
			}
			files++
		default:
			return files, fmt.Errorf("entry %.80q of the backup is not a file or directory", name)
		}
	}
}

// tarName cleans an archive entry name; it must be relative and must not
// climb out of the extraction directory.
func tarName(n string) (string, error) {
	c := filepath.Clean(strings.TrimPrefix(n, "./"))
	if filepath.IsAbs(c) || c == ".." || strings.HasPrefix(c, "../") || strings.ContainsRune(c, 0) {
		return "", fmt.Errorf("entry %.80q of the backup leaves the data directory", n)
	}
	return c, nil
}

// writeFile creates path (which must not exist, so no link is followed)
// with r's content.
func writeFile(path string, r io.Reader) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
