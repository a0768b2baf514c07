package local

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

// Instance users. When hoard runs as root, every instance's engine runs as
// an OS user of its own, so that no tenant — not even one with root inside
// its engine, running programs or reading files through it — can read,
// write or signal another instance's files and processes, nor hoard's.
//
//   - The user is named "hoard-" plus 14 hex digits of the SHA-256 of Root
//     and the instance id (two hoards with their own Roots on one host
//     never share a user), and its comment (GECOS) field is
//     "hoard instance <id>": an existing user of that name with another
//     comment is never used.
//   - Its uid, and the gid of its group of the same name, are allocated
//     from DefaultUIDBase upwards, above every uid and gid in use there,
//     and counted in Root/.locks/uids: a uid is never handed out twice,
//     even after its user was removed, so no new instance can own files a
//     removed one left behind.
//   - It is created by Provision (and, for an instance made before
//     instance users, by the next start, which hands its files over) and
//     removed by Destroy once the instance's files are gone.

// DefaultUIDBase is the first uid (and gid) of instance users: far above
// the ranges of system and login users (below 60000) and of the
// subordinate ids containers map (100000 to 600100000 in login.defs).
const DefaultUIDBase = 2_000_000_000

const (
	userPrefix    = "hoard-"
	gecosPrefix   = "hoard instance "
	uidsName      = "uids" // in Root/.locks: the next uid to hand out
	maxUserTries  = 20     // useradd/groupadd attempts while /etc/passwd is locked
	userToolPause = 50 * time.Millisecond
)

// userMu serialises the changes to /etc/passwd and /etc/group made by the
// drivers of this process; other processes are told apart by the tools'
// own lock (lckpwdf), which they retry.
var userMu sync.Mutex

// userName is the OS user of instance id under Root.
func (d *Driver) userName(id string) string { return userNameFor(d.realRoot, id) }

// userNameFor is the OS user of instance id under the root realRoot.
func userNameFor(realRoot, id string) string {
	sum := sha256.Sum256([]byte(realRoot + "\x00" + id))
	return userPrefix + hex.EncodeToString(sum[:])[:14]
}

// account returns the OS identity instance id's engine runs as, creating
// its user when create is set and it does not exist yet (errNoUser
// otherwise). When hoard does not run as root, or Config.User names one
// user for all, every instance shares that user.
func (d *Driver) account(ctx context.Context, id string, create bool) (account, error) {
	if !d.perInstance {
		return d.acct, nil
	}
	d.mu.Lock()
	a, ok := d.accts[id]
	d.mu.Unlock()
	if ok {
		return a, nil
	}
	a, err := d.lookupInstanceUser(id)
	if errors.Is(err, errNoUser) && create {
		a, err = d.createInstanceUser(ctx, id)
	}
	if err != nil {
		return account{}, err
	}
	d.mu.Lock()
	d.accts[id] = a
	d.mu.Unlock()
	return a, nil
}

// handOver gives instance s's files to a when they belong to someone else:
// an instance made before instance users ran as one user shared by all.
// It runs before every launch; an instance already handed over costs one
// stat.
func (d *Driver) handOver(ds datastore.Spec, a account) error {
	if !a.asRoot {
		return nil
	}
	fi, err := os.Lstat(ds.DataDir)
	if err != nil {
		return fmt.Errorf("while inspecting the data of instance %s: %w", ds.InstanceID, err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid == a.uid && st.Gid == a.gid {
		return nil
	}
	for _, dir := range []string{ds.DataDir, ds.RunDir, ds.LogDir, ds.FilesDir} {
		if dir == "" || !exists(dir) {
			continue
		}
		if err := chownTree(dir, a); err != nil {
			return fmt.Errorf("while handing %s to %s: %w", dir, a.name, err)
		}
	}
	// hoard's own directories and files: the instance user's group.
	for _, p := range []string{d.dir(ds.InstanceID), ds.ConfDir, filepath.Join(d.dir(ds.InstanceID), mountName)} {
		if !exists(p) {
			continue
		}
		if err := os.Lchown(p, os.Geteuid(), int(a.gid)); err != nil {
			return fmt.Errorf("while handing %s to %s: %w", p, a.name, err)
		}
	}
	entries, err := os.ReadDir(ds.ConfDir)
	if err != nil {
		return fmt.Errorf("while handing the configuration of instance %s to %s: %w", ds.InstanceID, a.name, err)
	}
	for _, e := range entries {
		if err := os.Lchown(filepath.Join(ds.ConfDir, e.Name()), os.Geteuid(), int(a.gid)); err != nil {
			return fmt.Errorf("while handing the configuration of instance %s to %s: %w", ds.InstanceID, a.name, err)
		}
	}
	d.log.Info("handed the instance's files to its own user", "instance_id", ds.InstanceID, "user", a.name)
	return nil
}

// chownTree gives dir and everything under it to a (when hoard runs as
// root), without following symbolic links.
func chownTree(dir string, a account) error {
	if !a.asRoot {
		return nil
	}
	return filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(a.uid), int(a.gid))
	})
}

// errNoUser means the instance has no OS user yet.
var errNoUser = errors.New("driver.local: instance user does not exist")

// lookupInstanceUser finds instance id's user: errNoUser if it has none.
func (d *Driver) lookupInstanceUser(id string) (account, error) {
	name := d.userName(id)
	u, err := user.Lookup(name)
	var unknown user.UnknownUserError
	if errors.As(err, &unknown) {
		return account{}, errNoUser
	}
	if err != nil {
		return account{}, fmt.Errorf("while looking up user %s: %w", name, err)
	}
	if u.Name != gecosPrefix+id {
		return account{}, fault.Errorf(fault.Conflict, "driver.local.user",
			"user %s exists but does not belong to instance %s (comment %q)", name, id, u.Name)
	}
	a, err := accountOf(u)
	if err != nil {
		return account{}, err
	}
	if a.uid < d.uidBase || a.gid < d.uidBase {
		return account{}, fault.Errorf(fault.Conflict, "driver.local.user",
			"user %s of instance %s has uid %d gid %d, below the instance range %d", name, id, a.uid, a.gid, d.uidBase)
	}
	return a, nil
}

// createInstanceUser creates instance id's group and user with a new id.
func (d *Driver) createInstanceUser(ctx context.Context, id string) (account, error) {
	userMu.Lock()
	defer userMu.Unlock()
	if a, err := d.lookupInstanceUser(id); !errors.Is(err, errNoUser) {
		return a, err // made meanwhile by another process
	}
	name := d.userName(id)
	lf, err := waitLock(ctx, filepath.Join(d.locksDir(), uidsName+".lock"))
	if err != nil {
		return account{}, err
	}
	defer lf.Close()
	// The lock above is this root's: another hoard on the host (another
	// data directory, a test) may take the same id between nextUID's look
	// at /etc/passwd and /etc/group and the tools. They then refuse it as
	// not unique (status 4), and the next look sees it taken.
	var uid uint32
	for try := 1; ; try++ {
		uid, err = d.nextUID()
		if err != nil {
			return account{}, err
		}
		err = d.addInstanceUser(ctx, id, name, uid)
		if err == nil {
			break
		}
		if !errors.Is(err, errIDTaken) || try == maxUserTries {
			return account{}, err
		}
		d.log.Info("an instance uid was taken by another process; taking the next", "instance_id", id, "uid", uid)
	}
	if err := d.writeNextUID(uid + 1); err != nil {
		return account{}, err
	}
	d.log.Info("created instance user", "instance_id", id, "user", name, "uid", uid)
	return d.lookupInstanceUser(id)
}

// errIDTaken: groupadd or useradd refused an id as already in use.
var errIDTaken = errors.New("id already in use")

// addInstanceUser creates group and user name with id uid for instance id;
// an error wrapping errIDTaken when the tools find uid taken (it then
// leaves nothing behind).
func (d *Driver) addInstanceUser(ctx context.Context, id, name string, uid uint32) error {
	// A group left by an interrupted creation is removed first: the new
	// one gets the id of this creation.
	if g, err := user.LookupGroup(name); err == nil {
		if err := userTool(ctx, "groupdel", name); err != nil {
			return fmt.Errorf("while removing stale group %s (gid %s): %w", name, g.Gid, err)
		}
	}
	n := strconv.FormatUint(uint64(uid), 10)
	if err := userTool(ctx, "groupadd", "--system", "-g", n, name); err != nil {
		return fmt.Errorf("while creating group %s: %w", name, idTaken(err))
	}
	if err := userTool(ctx, "useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
		"--shell", "/usr/sbin/nologin", "-u", n, "-g", n, "-c", gecosPrefix+id, name); err != nil {
		_ = userTool(ctx, "groupdel", name)
		return fmt.Errorf("while creating user %s: %w", name, idTaken(err))
	}
	return nil
}

// idTaken wraps err with errIDTaken when it is groupadd's or useradd's exit
// status 4 (GID or UID not unique).
func idTaken(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 4 {
		return fmt.Errorf("%w: %w", errIDTaken, err)
	}
	return err
}

// removeInstanceUser removes instance id's user and group, if any. The
// instance's files must be gone: the uid is never handed out again anyway.
func (d *Driver) removeInstanceUser(ctx context.Context, id string) error {
	if !d.perInstance {
		return nil
	}
	d.mu.Lock()
	delete(d.accts, id)
	d.mu.Unlock()
	userMu.Lock()
	defer userMu.Unlock()
	name := d.userName(id)
	_, err := d.lookupInstanceUser(id)
	switch {
	case errors.Is(err, errNoUser):
	case err != nil:
		if fault.Is(err, fault.Conflict) {
			return nil // not ours: leave it alone
		}
		return err
	default:
		if err := userTool(ctx, "userdel", name); err != nil {
			return fmt.Errorf("while removing user %s: %w", name, err)
		}
		d.log.Info("removed instance user", "instance_id", id, "user", name)
	}
	if g, err := user.LookupGroup(name); err == nil {
		if gid, _ := strconv.ParseUint(g.Gid, 10, 32); gid >= uint64(d.uidBase) {
			if err := userTool(ctx, "groupdel", name); err != nil {
				return fmt.Errorf("while removing group %s: %w", name, err)
			}
		}
	}
	return nil
}

// nextUID returns the next free instance id: above the counter and above
// every uid and gid in use in the instance range. The caller holds the
// uids lock.
func (d *Driver) nextUID() (uint32, error) {
	next := uint64(d.uidBase)
	b, err := os.ReadFile(filepath.Join(d.locksDir(), uidsName))
	switch {
	case err == nil:
		if n, perr := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32); perr == nil && n > next {
			next = n
		}
	case !errors.Is(err, fs.ErrNotExist):
		return 0, fmt.Errorf("while reading the uid counter: %w", err)
	}
	for _, f := range []string{"/etc/passwd", "/etc/group"} {
		hi, err := highestID(f, uint64(d.uidBase))
		if err != nil {
			return 0, err
		}
		if hi >= next {
			next = hi + 1
		}
	}
	if next >= 1<<32-2 {
		return 0, fmt.Errorf("instance uids exhausted (next %d)", next)
	}
	return uint32(next), nil
}

// writeNextUID records the next instance id to hand out.
func (d *Driver) writeNextUID(next uint32) error {
	path := filepath.Join(d.locksDir(), uidsName)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.FormatUint(uint64(next), 10)+"\n"), 0o600); err != nil {
		return fmt.Errorf("while writing the uid counter: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("while writing the uid counter: %w", err)
	}
	return nil
}

// highestID returns the highest id (third field) at or above base in a
// passwd or group file, or 0.
func highestID(path string, base uint64) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("while reading %s: %w", path, err)
	}
	return highestIDIn(b, base), nil
}

// highestIDIn is highestID of a file's contents.
func highestIDIn(b []byte, base uint64) uint64 {
	var hi uint64
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 3 {
			continue
		}
		n, err := strconv.ParseUint(f[2], 10, 32)
		if err == nil && n >= base && n > hi {
			hi = n
		}
	}
	return hi
}

// userTool runs useradd, userdel, groupadd or groupdel, retrying while
// another process holds the lock of /etc/passwd or /etc/group: the tools
// then exit with status 1 (passwd file) or 10 (group file), which they
// also use for other failures that a retry does not mend, so the tries are
// few and short.
func userTool(ctx context.Context, name string, args ...string) error {
	var err error
	for range maxUserTries {
		err = run(ctx, name, args...)
		var ee *exec.ExitError
		if err == nil || !errors.As(err, &ee) || (ee.ExitCode() != 1 && ee.ExitCode() != 10) {
			return err
		}
		t := time.NewTimer(userToolPause)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
	}
	return err
}
