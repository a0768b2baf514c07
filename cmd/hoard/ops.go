package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/hoard-db/hoard/internal/driver/local"
	"github.com/hoard-db/hoard/internal/pki"
	"github.com/hoard-db/hoard/internal/store/sqlite"
)

// opsFlags parses the flags of an operator's command that works on a data
// directory: --data-dir (and --store if withStore), with serve's defaults
// and environment variables, plus what more adds; it returns the
// positional arguments.
func opsFlags(name, usage string, args []string, withStore bool, more func(*flag.FlagSet)) (dataDir, storeURL string, rest []string, err error) {
	fs := flag.NewFlagSet("hoard "+name, flag.ContinueOnError)
	dataDir = os.Getenv(envName("data-dir"))
	if dataDir == "" {
		dataDir = "./hoard-data"
	}
	fs.StringVar(&dataDir, "data-dir", dataDir, "hoard's data directory (env HOARD_DATA_DIR)")
	if withStore {
		fs.StringVar(&storeURL, "store", os.Getenv(envName("store")), "metadata store, as hoard serve's --store (env HOARD_STORE; default: SQLite in the data dir)")
	}
	if more != nil {
		more(fs)
	}
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	helpToStdout(fs, args)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", "", nil, errHelp
		}
		return "", "", nil, errUsage
	}
	if dataDir == "" {
		fmt.Fprintf(os.Stderr, "hoard %s: --data-dir must not be empty\n", name)
		return "", "", nil, errUsage
	}
	return dataDir, storeURL, fs.Args(), nil
}

// stopAllCmd is `hoard stop-all`: it stops every database engine of a data
// directory, which hoard serve leaves running when it stops. Each instance
// keeps its wish to run: the next hoard serve starts the engines again.
func stopAllCmd(ctx context.Context, args []string, stdout io.Writer) error {
	var instanceUser string
	dataDir, _, rest, err := opsFlags("stop-all", `Usage: hoard stop-all [--data-dir DIR]

Stops every database engine that hoard serve started from DIR (hoard serve
leaves them running when it stops, so that a restart or an upgrade of hoard
does not interrupt the databases). hoard serve must not run on DIR. The
instances keep their state: the next hoard serve starts their engines again.

`, args, false, func(fs *flag.FlagSet) {
		fs.StringVar(&instanceUser, "instance-user", os.Getenv(envName("instance-user")), "as hoard serve's --instance-user (env HOARD_INSTANCE_USER)")
	})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		fmt.Fprintf(os.Stderr, "hoard stop-all: unexpected arguments %q\n", rest)
		return errUsage
	}
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return err
	}
	root := filepath.Join(dir, "instances")
	if _, err := os.Stat(root); errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(stdout, "no engines: %s holds no instances\n", dir)
		return nil
	}
	// Exclusive, whatever the store: a hoard serving from dir would start
	// again what this stops.
	lock, err := lockDataDir(dir, false)
	if err != nil {
		return fmt.Errorf("%w: stop hoard serve first (its engines keep running until this command stops them)", err)
	}
	defer lock.Close()
	drv, err := local.New(local.Config{
		Root:    root,
		User:    instanceUser,
		Engines: newEngines(nil),
		// Nobody supervises the engines meanwhile: this Driver must not
		// adopt them either.
		AdoptEvery: 24 * time.Hour,
		Logger:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		return fmt.Errorf("local driver: %w", err)
	}
	defer drv.Close()
	halted, err := drv.HaltAll(ctx)
	for _, id := range halted {
		fmt.Fprintf(stdout, "stopped the engine of instance %s\n", id)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d engines stopped; hoard serve --data-dir %s starts them again\n", len(halted), dir)
	return nil
}

// selfBackupFiles are the files of the data directory that a copy of the
// store needs besides itself: secret.key seals every password hoard keeps
// (without it the sealed secrets in the store are lost), node.id binds the
// store to this data directory (checkLocalNode), admin-password is the
// generated password of the bootstrap admin, and hoard's CA (its
// certificate and its key sealed with secret.key) issued every instance's
// certificate: without it they are re-issued from a new CA, which every
// client must fetch again.
var selfBackupFiles = []string{"secret.key", nodeIDName, "admin-password", pki.CertFile, pki.SealedKeyFile}

// storeBackupCmd is `hoard store-backup DEST`: an online, consistent copy
// of hoard's own SQLite store (VACUUM INTO) and of the files that go with
// it, into a new directory DEST.
func storeBackupCmd(ctx context.Context, args []string, stdout io.Writer) error {
	dataDir, storeURL, rest, err := opsFlags("store-backup", `Usage: hoard store-backup [--data-dir DIR] [--store sqlite:///PATH] DEST

Copies hoard's own metadata while hoard serve runs: a consistent copy of the
SQLite store (hoard.db, made with VACUUM INTO) and the files that go with it
(secret.key, node.id, admin-password, ca.crt, ca.key.sealed), into DEST, a new directory readable by
its owner only. Database instances are backed up through the API instead.

`, args, true, nil)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		fmt.Fprintln(os.Stderr, "hoard store-backup: want one destination directory")
		return errUsage
	}
	dest := rest[0]
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return err
	}
	spec, err := parseStore(storeURL, dir)
	if err != nil {
		return fmt.Errorf("--store: %w", err)
	}
	if spec.Kind != storeSQLite {
		return errors.New("the metadata store is PostgreSQL: back it up with pg_dump or the database's own backups, and copy secret.key from every data directory")
	}
	if _, err := os.Stat(spec.Path); err != nil {
		return fmt.Errorf("no store to back up: %w", err)
	}
	if err := os.Mkdir(dest, 0o700); err != nil {
		return fmt.Errorf("destination: %w", err)
	}
	if err := sqlite.BackupTo(ctx, spec.Path, filepath.Join(dest, "hoard.db")); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "copied %s to %s\n", spec.Path, filepath.Join(dest, "hoard.db"))
	for _, name := range selfBackupFiles {
		src := filepath.Join(dir, name)
		b, err := os.ReadFile(src)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dest, name), b, 0o600); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "copied %s\n", src)
	}
	if _, err := os.Stat(filepath.Join(dest, "secret.key")); err != nil {
		fmt.Fprintf(stdout, "warning: %s has no secret.key: the sealed secrets in this copy cannot be opened without it\n", dir)
	}
	return nil
}
