package mariadb

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/engineproc"
	"github.com/hoard-db/hoard/internal/fault"
)

var _ datastore.Backuper = (*Engine)(nil)

const (
	backupProgram  = "mariadb-backup"
	mbstreamProgam = "mbstream"
	// checkpointsFile is written by mariadb-backup into --extra-lsndir (and
	// into the stream): backup_type, from_lsn, to_lsn, last_lsn.
	checkpointsFile = "xtrabackup_checkpoints"
	// infoFile is written beside it: tool, server and binary log position.
	infoFile = "xtrabackup_info"
)

// Meta keys recorded with a backup.
const (
	MetaBackupType = "backup_type"
	MetaFromLSN    = "from_lsn"
	MetaToLSN      = "to_lsn"
	MetaLastLSN    = "last_lsn"
	// MetaGTIDPos is the server's GTID position at the backup
	// (gtid_binlog_pos, e.g. "0-1234-56"; "" for a server that had not
	// logged a transaction yet), where a replica restored from it starts.
	// It is absent for a backup of a server that wrote no binary log.
	MetaGTIDPos = "gtid_pos"
)

// Backup implements datastore.Backuper with mariadb-backup (engines.md §4):
//
//	mariadb-backup --defaults-file=<private> --backup --stream=xbstream
//	    --target-dir=<tmp> --extra-lsndir=<tmp>/lsn [--incremental-lsn=<parent to_lsn>]
//
// The server keeps serving: InnoDB files are copied while the redo log is
// followed, and only a short BACKUP STAGE BLOCK_COMMIT pauses commits at
// the end. The account and password go into a 0600 option file in a 0700
// temporary directory (mariadb-backup reads no MYSQL_PWD), never on the
// command line. An incremental starts at the parent's to_lsn (its
// checkpoint), which is what --incremental-basedir would read.
func (e *Engine) Backup(ctx context.Context, c datastore.Conn, spec datastore.Spec, work string, w io.Writer, parent *datastore.BackupRef) (map[string]string, error) {
	const op = "mariadb.backup"
	if spec.DataDir == "" || !filepath.IsAbs(spec.DataDir) {
		return nil, fault.New(fault.Invalid, op, "the data directory must be an absolute path")
	}
	var incLSN string
	if parent != nil {
		incLSN = parent.Meta[MetaToLSN]
		if !isDigits(incLSN) {
			return nil, fault.Errorf(fault.Invalid, op, "backup %s has no recorded to_lsn to build an incremental on", parent.ID)
		}
	}
	tmp := work
	cnf := filepath.Join(tmp, "backup.cnf")
	if err := writeBackupCnf(cnf, c, spec); err != nil {
		return nil, fmt.Errorf("mariadb: backup: %w", err)
	}
	target, lsnDir := filepath.Join(tmp, "target"), filepath.Join(tmp, "lsn")
	for _, d := range []string{target, lsnDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return nil, fmt.Errorf("mariadb: backup: %w", err)
		}
	}
	args := []string{"--defaults-file=" + cnf, "--backup", "--stream=xbstream",
		"--target-dir=" + target, "--extra-lsndir=" + lsnDir, "--tmpdir=" + tmp}
	if incLSN != "" {
		args = append(args, "--incremental-lsn="+incLSN)
	}
	if err := e.runTool(ctx, backupProgram, args, nil, w); err != nil {
		return nil, fmt.Errorf("mariadb: backup: %w", err)
	}
	meta, err := readCheckpoints(filepath.Join(lsnDir, checkpointsFile))
	if err != nil {
		return nil, fmt.Errorf("mariadb: backup: %w", err)
	}
	// The binary log position at the backup, which a replica restored from
	// it starts from (replication.go); none when the server logs nothing.
	if b, err := os.ReadFile(filepath.Join(lsnDir, infoFile)); err == nil {
		if pos, ok := ParseGTIDPos(b); ok {
			meta[MetaGTIDPos] = pos
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("mariadb: backup: %w", err)
	}
	return meta, nil
}

// gtidPosRE is a GTID position: comma-separated domain-server-sequence
// triples, or nothing.
var gtidPosRE = regexp.MustCompile(`^([0-9]{1,10}-[0-9]{1,10}-[0-9]{1,20}(,[0-9]{1,10}-[0-9]{1,10}-[0-9]{1,20})*)?$`)

// binlogPosRE finds the GTID in xtrabackup_info's binlog_pos line, e.g.
// "binlog_pos = filename 'mariadb-bin.000001', position '802', GTID of the
// last change '0-7-3'". mariadb-backup reads it (SHOW MASTER STATUS and
// gtid_binlog_pos) while commits are blocked, so it matches the data.
var binlogPosRE = regexp.MustCompile(`(?m)^binlog_pos = .*GTID of the last change '([^']*)'`)

// ParseGTIDPos returns the GTID position in the content of an
// xtrabackup_info file; ok is false when there is none (a server without
// a binary log) or it is malformed.
func ParseGTIDPos(info []byte) (pos string, ok bool) {
	m := binlogPosRE.FindSubmatch(info)
	if m == nil || !gtidPosRE.Match(m[1]) {
		return "", false
	}
	return string(m[1]), true
}

// Restore implements datastore.Backuper: each stream is unpacked with
// mbstream into work/<n>; the full backup is prepared, then every
// incremental is applied to it in order (--prepare --incremental-dir),
// and the result is copied into spec.DataDir with --copy-back.
//
// The result holds no replication connection, even from a backup of a
// replica: mariadb-backup copies neither master.info, relay-log.info nor
// the relay logs, so the restored server follows no source until
// StartReplica makes it (TestRestoreReplicaBackup). Only the replica's
// mysql.gtid_slave_pos comes along; nothing reads it but a replica, and
// StartReplica sets it before it follows a source.
func (e *Engine) Restore(ctx context.Context, spec datastore.Spec, work string, chain []io.Reader) error {
	const op = "mariadb.restore"
	if len(chain) == 0 {
		return fault.New(fault.Invalid, op, "nothing to restore")
	}
	if spec.DataDir == "" || !filepath.IsAbs(spec.DataDir) {
		return fault.New(fault.Invalid, op, "the data directory must be an absolute path")
	}
	dirs := make([]string, len(chain))
	for i, r := range chain {
		dirs[i] = filepath.Join(work, strconv.Itoa(i))
		if err := os.Mkdir(dirs[i], 0o700); err != nil {
			return fmt.Errorf("mariadb: restore: %w", err)
		}
		if err := e.runTool(ctx, mbstreamProgam, []string{"-x", "-C", dirs[i]}, r, io.Discard); err != nil {
			return fmt.Errorf("mariadb: restore: unpack backup %d of %d: %w", i+1, len(chain), err)
		}
		// The stream carries its own checkpoints: an incremental must
		// continue where the previous one ended.
		if _, err := readCheckpoints(filepath.Join(dirs[i], checkpointsFile)); err != nil {
			return fmt.Errorf("mariadb: restore: backup %d of %d: %w", i+1, len(chain), err)
		}
	}
	if err := e.runTool(ctx, backupProgram, []string{"--no-defaults", "--prepare", "--target-dir=" + dirs[0]}, nil, io.Discard); err != nil {
		return fmt.Errorf("mariadb: restore: prepare: %w", err)
	}
	for i, d := range dirs[1:] {
		if err := e.runTool(ctx, backupProgram, []string{"--no-defaults", "--prepare", "--target-dir=" + dirs[0], "--incremental-dir=" + d}, nil, io.Discard); err != nil {
			return fmt.Errorf("mariadb: restore: apply incremental %d of %d: %w", i+1, len(dirs)-1, err)
		}
	}
	if err := e.runTool(ctx, backupProgram, []string{"--no-defaults", "--copy-back", "--target-dir=" + dirs[0], "--datadir=" + spec.DataDir}, nil, io.Discard); err != nil {
		return fmt.Errorf("mariadb: restore: copy back: %w", err)
	}
	return nil
}

// runTool runs a MariaDB tool in its own process group (killed as a group
// when ctx ends), with stdin and stdout as given; a failure quotes the last
// lines of its standard error.
func (e *Engine) runTool(ctx context.Context, name string, args []string, stdin io.Reader, stdout io.Writer) error {
	cmd := exec.CommandContext(ctx, e.programOrName(name), args...)
	cmd.Stdin = stdin
	cmd.Stdout = stdout
	var stderr engineproc.Tail
	cmd.Stderr = &stderr
	// Its own group, so that a cancel kills its children too; and killed
	// with hoard, so that a crash leaves no tool running.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 0
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%s: %w: %s", name, err, stderr.LastLines(8))
	}
	e.log.Debug("tool done", "tool", name, "args", strings.Join(args[1:], " "))
	return nil
}

// writeBackupCnf writes the private option file of a backup: the account
// (hoard's admin) in [mariadb-backup] and the data directory in [mysqld].
func writeBackupCnf(path string, c datastore.Conn, spec datastore.Spec) error {
	for _, v := range []string{c.User, string(c.Password), c.Socket, c.Address, spec.DataDir} {
		if strings.ContainsAny(v, "\n\r\x00") {
			return errors.New("a connection value contains a line break")
		}
	}
	var b strings.Builder
	b.WriteString("[mariadb-backup]\n")
	fmt.Fprintf(&b, "user=%s\n", cnfQuote(c.User))
	fmt.Fprintf(&b, "password=%s\n", cnfQuote(string(c.Password)))
	if c.Socket != "" {
		fmt.Fprintf(&b, "socket=%s\n", cnfQuote(c.Socket))
	} else {
		fmt.Fprintf(&b, "host=%s\nport=%d\n", cnfQuote(c.Address), c.Port)
	}
	b.WriteString("[mysqld]\n")
	fmt.Fprintf(&b, "datadir=%s\n", cnfQuote(spec.DataDir))
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// cnfQuote quotes an option file value: MariaDB's option parser strips
// double quotes and understands \" and \\ inside them.
func cnfQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// readCheckpoints parses an xtrabackup_checkpoints file ("key = value"
// lines) into backup meta.
func readCheckpoints(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	return ParseCheckpoints(b)
}

// ParseCheckpoints parses the content of an xtrabackup_checkpoints file.
// It requires backup_type and a numeric to_lsn.
func ParseCheckpoints(b []byte) (map[string]string, error) {
	meta := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case MetaBackupType, MetaFromLSN, MetaToLSN, MetaLastLSN:
			meta[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("checkpoints: %w", err)
	}
	if meta[MetaBackupType] == "" || !isDigits(meta[MetaToLSN]) {
		return nil, errors.New("checkpoints: no backup_type or no numeric to_lsn")
	}
	for _, k := range []string{MetaFromLSN, MetaLastLSN} {
		if v, ok := meta[k]; ok && !isDigits(v) {
			return nil, fmt.Errorf("checkpoints: %s is not a number", k)
		}
	}
	return meta, nil
}

func isDigits(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
