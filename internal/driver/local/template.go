package local

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver"
)

// The template pool: data directories initialised ahead of time.
//
// For each engine whose process is a datastore.Templater, the driver keeps
// Config.TemplatePool data directories initialised by the engine's own
// InitArgs under Root/.templates/<engine>-<n>/data, and Provision copies one
// into a new instance's data directory instead of running the init there.
// Each directory serves exactly one instance: what an init draws at random
// (PostgreSQL's system identifier) is never shared. The pool is refilled in
// the background after each use; when it is empty, or the instance cannot
// use one (datastore.Templater.Templatable: a configuration group, a
// replica), Provision runs the init as before.
//
//   - Root/.templates is hoard's (mode 0711); a ready directory and
//     everything in it belongs to hoard (root), mode 0700 at its top: no
//     instance user can read or change one. The init runs as a user of its
//     own (builder: the host's "hoard" user where instances have users of
//     their own, which runs no instance's engine) in a directory only it
//     may enter, named
//     ".tmp-..."; once the init succeeded, its files are handed to hoard,
//     the manifest is written and the directory renamed into place. A name
//     without a dot is therefore always complete.
//   - The manifest records TemplateVersion (the engine's programs, their
//     --version output) and a SHA-256 over the data directory (treeHash:
//     relative paths, types and modes, sizes, contents). A directory whose
//     version is not the installed one, or without a readable manifest, is
//     removed and built again; every directory's hash is checked when the
//     driver starts, and again while it is copied for an instance (the
//     copy reads every byte anyway): a mismatch empties the instance's data
//     directory, removes the pool's directory and falls back to the init.
//   - A directory is taken by renaming it to ".claimed-..." (one rename
//     wins), and once used renamed to ".used-...", which the filler
//     removes, not the create; removals rename first as well. A directory is copied, not
//     moved: instance data usually lives on the instance's own volume.
//     The copy makes the directories first, then copies the files on a
//     few goroutines (copyWorkers), gives every file the instance user and
//     the mode the init gave it (the same files, modes and owners as a
//     fresh init), allocates each file whole (fallocate, or the writes of
//     a one-block file: as written by the init, so a full volume cannot
//     fail a later write into the file) and writes only the blocks that
//     are not zero (MariaDB's 48 MB redo log is one block of data), then
//     flushes the volume once (syncfs, no per-file fsync) before the
//     instance is marked initialised.
const (
	templatesName    = ".templates"
	templateManifest = "manifest.json"
	templateData     = "data"
	// templateCheckEvery is how often the filler looks at the pool and
	// the engines' versions without being asked (after each use it is).
	templateCheckEvery = 30 * time.Second
	// hashBlock is the unit of treeHash and of the copy's zero detection.
	hashBlock = 64 << 10
	// templateNice is the niceness of the pool's inits: a create waiting
	// for its own init goes first.
	templateNice = 10
	// templateFormat is the manifest's format: how its hash is computed
	// (copyTree). A directory of another format is built again.
	templateFormat = 2
	// usedPrefix names a directory a claim has used (copied or refused),
	// which the filler removes.
	usedPrefix = ".used-"
)

// templateManifestV is the content of a ready directory's manifest.
type templateManifestV struct {
	Format  int       `json:"format"` // templateFormat (absent: 1)
	Engine  string    `json:"engine"`
	Version string    `json:"version"` // TemplateVersion
	Label   string    `json:"label"`   // the datastore version (Discover), for metrics
	Hash    string    `json:"sha256"`  // treeHash of data/
	Files   int       `json:"files"`
	Bytes   int64     `json:"bytes"`
	Built   time.Time `json:"built"`
}

// TemplateStatus is the number of ready pre-initialised data directories
// of one engine version.
type TemplateStatus struct {
	Engine  string
	Version string
	Ready   int
}

// templatePool is the Driver's pool; nil when Config.TemplatePool is 0.
type templatePool struct {
	d    *Driver
	n    int
	dir  string
	kick chan struct{}

	mu       sync.Mutex
	versions map[string]templateVersion // by engine name, as the filler last read them
	acct     *account                   // builder's, once resolved
}

type templateVersion struct{ id, label string }

func newTemplatePool(d *Driver, n int) (*templatePool, error) {
	p := &templatePool{
		d: d, n: n, dir: filepath.Join(d.root, templatesName),
		kick:     make(chan struct{}, 1),
		versions: make(map[string]templateVersion),
	}
	if err := os.Mkdir(p.dir, 0o711); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("while creating the template pool %s: %w", p.dir, err)
	}
	if err := os.Chmod(p.dir, 0o711); err != nil {
		return nil, fmt.Errorf("while closing the template pool %s: %w", p.dir, err)
	}
	return p, nil
}

// templaters returns the engines with a template capability, by name.
func (p *templatePool) templaters() []string {
	var names []string
	for name, e := range p.d.cfg.Engines {
		if _, ok := e.Process().(datastore.Templater); ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

func (p *templatePool) entry(engine string, i int) string {
	return filepath.Join(p.dir, engine+"-"+strconv.Itoa(i))
}

// wake asks the filler to look at the pool now.
func (p *templatePool) wake() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// run is the filler: it removes what interrupted builds and claims left
// (when no other hoard shares Root), checks every ready directory, then
// keeps the pool full until the Driver closes.
func (p *templatePool) run() {
	defer p.d.wg.Done()
	p.sweep()
	verify := true
	t := time.NewTicker(templateCheckEvery)
	defer t.Stop()
	for {
		p.fill(verify)
		verify = false
		select {
		case <-p.d.ctx.Done():
			return
		case <-p.kick:
		case <-t.C:
		}
	}
}

// sweep removes leftovers of builds and claims interrupted by a crash;
// only when this Driver is alone on Root (another one may be building).
func (p *templatePool) sweep() {
	alone, release := p.d.alone()
	defer release()
	if !alone {
		return
	}
	entries, err := os.ReadDir(p.dir)
	if err != nil {
		p.d.log.Warn("cannot list the template pool", "err", err)
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			if err := os.RemoveAll(filepath.Join(p.dir, e.Name())); err != nil {
				p.d.log.Warn("cannot remove a template pool leftover", "name", e.Name(), "err", err)
			}
		}
	}
}

// version is engine name's TemplateVersion (cheap: engines cache it by
// program file) and, when label is set, its datastore version (Discover,
// which runs the engine's program; the filler's only).
func (p *templatePool) version(ctx context.Context, name string, label bool) (templateVersion, error) {
	e := p.d.cfg.Engines[name]
	t, ok := e.Process().(datastore.Templater)
	if !ok {
		return templateVersion{}, fmt.Errorf("engine %s has no templates", name)
	}
	id, err := t.TemplateVersion(ctx)
	if err != nil {
		return templateVersion{}, err
	}
	recipe, err := templateRecipe(e)
	if err != nil {
		return templateVersion{}, err
	}
	v := templateVersion{id: id + "; hoard recipe " + recipe}
	if label {
		// The label of a version id already seen is known: no need to run
		// the engine's programs again at every refill (beside a create).
		p.mu.Lock()
		old, ok := p.versions[name]
		p.mu.Unlock()
		if ok && old.id == id {
			return old, nil
		}
		vs, err := e.Discover(ctx)
		if err != nil {
			return templateVersion{}, err
		}
		if len(vs) > 0 {
			v.label = vs[0].Version
		}
		p.mu.Lock()
		p.versions[name] = v
		p.mu.Unlock()
	}
	return v, nil
}

// fill builds what the pool lacks: round by round, one directory per
// engine, so that every engine soon has one. With verify it checks the
// hash of every ready directory first.
func (p *templatePool) fill(verify bool) {
	p.removeUsed()
	names := p.templaters()
	vers := make(map[string]templateVersion, len(names))
	for _, name := range names {
		v, err := p.version(p.d.ctx, name, true)
		if err != nil {
			if p.d.ctx.Err() == nil && !errors.Is(err, datastore.ErrNotInstalled) {
				p.d.log.Warn("no template pool for an engine whose version cannot be read", "engine", name, "err", err)
			}
			continue
		}
		vers[name] = v
	}
	for i := 0; i < p.n; i++ {
		for _, name := range names {
			v, ok := vers[name]
			if !ok || p.d.ctx.Err() != nil {
				continue
			}
			path := p.entry(name, i)
			if exists(path) {
				m, err := readManifest(path)
				switch {
				case err != nil:
					p.d.log.Warn("removing a pre-initialised data directory without a readable manifest", "path", path, "err", err)
				case m.Engine != name || m.Version != v.id || m.Format != templateFormat:
					p.d.log.Info("removing a pre-initialised data directory of another engine version or format", "path", path,
						"built", m.Label, "installed", v.label, "format", m.Format)
				case verify:
					h, _, _, err := copyTree(filepath.Join(path, templateData), "", account{})
					if err == nil && h == m.Hash {
						continue
					}
					p.d.log.Warn("removing a corrupt pre-initialised data directory", "path", path, "err", err)
				default:
					continue
				}
				p.discard(path)
			}
			if err := p.build(name, i, v); err != nil && p.d.ctx.Err() == nil {
				p.d.log.Warn("cannot pre-initialise a data directory", "engine", name, "err", err)
			}
		}
	}
}

// removeUsed removes the directories claims have used.
func (p *templatePool) removeUsed() {
	entries, err := os.ReadDir(p.dir)
	if err != nil {
		p.d.log.Warn("cannot list the template pool", "err", err)
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), usedPrefix) {
			if err := os.RemoveAll(filepath.Join(p.dir, e.Name())); err != nil {
				p.d.log.Warn("cannot remove a used pre-initialised data directory", "name", e.Name(), "err", err)
			}
		}
	}
}

// discard renames path away (a claim cannot take it after that) and
// removes it.
func (p *templatePool) discard(path string) {
	gone := filepath.Join(p.dir, ".trash-"+randomSuffix())
	if err := os.Rename(path, gone); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			p.d.log.Warn("cannot remove a pre-initialised data directory", "path", path, "err", err)
		}
		return
	}
	if err := os.RemoveAll(gone); err != nil {
		p.d.log.Warn("cannot remove a pre-initialised data directory", "path", gone, "err", err)
	}
}

// templateSpec is the spec a pool directory is initialised with: the
// directories of tmp, nothing of an instance.
func templateSpec(tmp string, port int) datastore.Spec {
	return datastore.Spec{
		InstanceID: "template",
		DataDir:    filepath.Join(tmp, templateData),
		RunDir:     filepath.Join(tmp, "run"),
		LogDir:     filepath.Join(tmp, "log"),
		ConfDir:    filepath.Join(tmp, "conf"),
		FilesDir:   filepath.Join(tmp, "files"),
		Address:    "127.0.0.1",
		Port:       port,
		VolumeGB:   1,
	}
}

// templateRecipe identifies what hoard itself gives an engine's init: the
// configuration it renders and the init's command line, for a pool
// directory at a fixed path. A hoard whose rendering or init arguments
// changed (a new default the init reads, another locale) finds the
// directories an older one built stale, as it does those of another engine
// version.
func templateRecipe(e datastore.Engine) (string, error) {
	ds := templateSpec("/hoard-template-recipe", e.DefaultPort())
	files, err := e.Process().Render(ds)
	if err != nil {
		return "", fmt.Errorf("while rendering the template config: %w", err)
	}
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "file %q %d\n", f.Name, len(f.Content))
		h.Write(f.Content)
	}
	for _, a := range e.Process().InitArgs(ds) {
		fmt.Fprintf(h, "arg %q\n", a)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// build initialises pool directory i of engine name.
func (p *templatePool) build(name string, i int, v templateVersion) (err error) {
	d := p.d
	eng := d.cfg.Engines[name]
	start := time.Now()
	a, err := p.builder()
	if err != nil {
		return err
	}
	tmp := filepath.Join(p.dir, ".tmp-"+name+"-"+strconv.Itoa(i)+"-"+randomSuffix())
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	ds := templateSpec(tmp, eng.DefaultPort())
	if err := mkdirOwned(tmp, 0o700, a, true); err != nil {
		return err
	}
	for _, dir := range []string{ds.DataDir, ds.RunDir, ds.LogDir, ds.ConfDir, ds.FilesDir} {
		if err := mkdirOwned(dir, 0o700, a, true); err != nil {
			return err
		}
	}
	files, err := eng.Process().Render(ds)
	if err != nil {
		return fmt.Errorf("while rendering the template config: %w", err)
	}
	for _, f := range files {
		if f.Name == "" || filepath.Base(f.Name) != f.Name || f.Name == "." || f.Name == ".." {
			return fmt.Errorf("engine %s rendered a config file with a bad name %q", name, f.Name)
		}
		if err := writeAtomic(filepath.Join(ds.ConfDir, f.Name), f.Content, 0o640, a); err != nil {
			return err
		}
	}
	args := eng.Process().InitArgs(ds)
	if len(args) == 0 {
		return fmt.Errorf("engine %s has no init", name)
	}
	logPath := filepath.Join(ds.LogDir, "init.log")
	lf, err := openLog(logPath, true)
	if err != nil {
		return err
	}
	defer lf.Close()
	cmd := exec.CommandContext(d.ctx, args[0], args[1:]...)
	cmd.Dir = ds.DataDir
	cmd.Env = d.env(a)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = sysProcAttr(a)
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("while starting the template init: %w", err)
	}
	// Its own session: the whole group, children forked later included.
	_ = syscall.Setpriority(syscall.PRIO_PGRP, cmd.Process.Pid, templateNice)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("while pre-initialising a data directory: %w; last lines of the init log:\n%s", err, tail(lf, logTailLines))
	}
	// Hand it to hoard, keep only the data and record what it is.
	for _, dir := range []string{ds.RunDir, ds.LogDir, ds.ConfDir, ds.FilesDir} {
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	if a.asRoot {
		if err := chownTree(tmp, account{asRoot: true}); err != nil {
			return err
		}
	}
	h, files2, size, err := copyTree(ds.DataDir, "", account{})
	if err != nil {
		return err
	}
	m := templateManifestV{Format: templateFormat, Engine: name, Version: v.id, Label: v.label, Hash: h, Files: files2, Bytes: size, Built: time.Now().UTC()}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(tmp, templateManifest), append(b, '\n'), 0o600, account{}); err != nil {
		return err
	}
	if err := os.Rename(tmp, p.entry(name, i)); err != nil {
		return fmt.Errorf("while putting a pre-initialised data directory in place: %w", err)
	}
	d.log.Info("pre-initialised a data directory", "engine", name, "version", v.label, "n", i,
		"files", files2, "bytes", size, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// builder is the account the pool's inits run as: where instances have
// users of their own, the host's DefaultUser (created if missing, as
// engines ran before instance users; no instance's engine runs as it, and
// one user serves every Root on the host, so none is left behind per
// Root); else the one user every engine runs as.
func (p *templatePool) builder() (account, error) {
	if !p.d.perInstance {
		return p.d.acct, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.acct == nil {
		a, err := resolveUser(DefaultUser, p.d.log)
		if err != nil {
			return account{}, err
		}
		p.acct = &a
	}
	return *p.acct, nil
}

// readManifest reads the manifest of pool directory path.
func readManifest(path string) (templateManifestV, error) {
	var m templateManifestV
	b, err := os.ReadFile(filepath.Join(path, templateManifest))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, err
	}
	if m.Hash == "" || m.Version == "" {
		return m, errors.New("incomplete manifest")
	}
	return m, nil
}

// claim fills ds.DataDir (empty, owned by a) from a pool directory of
// engine name; false when none could be used (the caller runs the init).
// It never fails a provision: what goes wrong is logged and the init runs.
func (p *templatePool) claim(ctx context.Context, name string, ds datastore.Spec, a account) bool {
	eng := p.d.cfg.Engines[name]
	t, ok := eng.Process().(datastore.Templater)
	if !ok || !t.Templatable(ds) {
		return false
	}
	v, err := p.version(ctx, name, false)
	if err != nil {
		return false
	}
	defer p.wake()
	for i := 0; i < p.n; i++ {
		claimed := filepath.Join(p.dir, ".claimed-"+randomSuffix())
		if err := os.Rename(p.entry(name, i), claimed); err != nil {
			continue // taken, or not built yet
		}
		used, err := p.use(claimed, name, v, ds, a)
		// The filler removes it (woken on return), not the create: removing
		// ~1,000 files takes longer than copying them.
		if os.Rename(claimed, filepath.Join(p.dir, usedPrefix+randomSuffix())) != nil {
			if rerr := os.RemoveAll(claimed); rerr != nil {
				p.d.log.Warn("cannot remove a used pre-initialised data directory", "path", claimed, "err", rerr)
			}
		}
		if used {
			return true
		}
		p.d.log.Warn("a pre-initialised data directory was not used", "instance_id", ds.InstanceID, "engine", name, "err", err)
		if err := emptyDir(ds.DataDir); err != nil {
			p.d.log.Warn("cannot empty data after a failed copy", "instance_id", ds.InstanceID, "err", err)
			return false
		}
	}
	return false
}

// use copies the claimed pool directory into ds.DataDir, checking it.
func (p *templatePool) use(claimed, name string, v templateVersion, ds datastore.Spec, a account) (bool, error) {
	start := time.Now()
	m, err := readManifest(claimed)
	if err != nil {
		return false, err
	}
	if m.Engine != name || m.Version != v.id || m.Format != templateFormat {
		return false, fmt.Errorf("built for another engine version (%s) or format (%d)", m.Label, m.Format)
	}
	h, files, size, err := copyTree(filepath.Join(claimed, templateData), ds.DataDir, a)
	if err != nil {
		return false, err
	}
	if h != m.Hash {
		return false, errors.New("content hash differs from its manifest")
	}
	copied := time.Now()
	if err := syncFS(ds.DataDir); err != nil {
		return false, err
	}
	p.d.log.Info("initialised data from a pre-initialised directory", "instance_id", ds.InstanceID,
		"files", files, "bytes", size, "copy", copied.Sub(start).Round(time.Millisecond),
		"sync", time.Since(copied).Round(time.Millisecond))
	return true, nil
}

// Templates reports the ready pre-initialised data directories of each
// engine version (none when the pool is off).
func (d *Driver) Templates() []TemplateStatus {
	p := d.pool
	if p == nil {
		return nil
	}
	counts := map[[2]string]int{}
	for _, name := range p.templaters() {
		p.mu.Lock()
		v, ok := p.versions[name]
		p.mu.Unlock()
		if ok {
			counts[[2]string{name, v.label}] += 0
		}
		for i := 0; i < p.n; i++ {
			m, err := readManifest(p.entry(name, i))
			if err == nil && m.Engine == name && m.Format == templateFormat && (!ok || m.Version == v.id) {
				counts[[2]string{name, m.Label}]++
			}
		}
	}
	out := make([]TemplateStatus, 0, len(counts))
	for k, n := range counts {
		out = append(out, TemplateStatus{Engine: k[0], Version: k[1], Ready: n})
	}
	slices.SortFunc(out, func(a, b TemplateStatus) int {
		return strings.Compare(a.Engine+"\x00"+a.Version, b.Engine+"\x00"+b.Version)
	})
	return out
}

// usePool reports whether s may take a pre-initialised data directory.
func (d *Driver) usePool(s driver.Spec) bool { return d.pool != nil && s.ReplicaOf == nil }

// copyWorkers is how many files copyTree copies at once (it hashes
// without copying, in the background, on one): the cost of a pool
// directory of small files (PostgreSQL's ~970) is mostly per-file work in
// the kernel (create, chown, write), which overlaps.
var copyWorkers = 4

// treeEntry is one path of a tree copyTree copies.
type treeEntry struct {
	rel string
	fi  fs.FileInfo
	sum [sha256.Size]byte // regular files: fileHash
}

// copyTree hashes the tree at src (treeHash) and, unless dst is "",
// copies it into the existing directory dst: directories and regular files
// only, each with its mode and owned by a (as root), files allocated whole
// and only their non-zero blocks written. The directories are made first,
// in walk order, then copyWorkers copy the files, the largest first. It
// returns the hash, the number of files and their total size.
//
// The hash (templateFormat 2) is SHA-256 over, for each entry in lexical
// walk order: its type and permission bits, its size, the length of its
// path relative to src and that path, then for a regular file its
// fileHash. A file's hash is SHA-256 over each 64 KiB block as "Z" when it
// is all zero, else "D" and the block: the zero blocks that dominate a
// fresh data directory cost a comparison, not a hash, and the files can be
// hashed apart.
func copyTree(src, dst string, a account) (string, int, int64, error) {
	var entries []treeEntry
	var files []int // indices of the regular files in entries
	var total int64
	err := filepath.WalkDir(src, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		mode := fi.Mode()
		switch {
		case mode.IsDir():
			entries = append(entries, treeEntry{rel: rel, fi: fi})
			if dst == "" {
				return nil
			}
			target := filepath.Join(dst, rel)
			if rel != "." {
				if err := os.Mkdir(target, mode.Perm()); err != nil {
					return err
				}
			}
			if a.asRoot {
				if err := os.Lchown(target, int(a.uid), int(a.gid)); err != nil {
					return err
				}
			}
			return os.Chmod(target, mode.Perm())
		case mode.IsRegular():
			files = append(files, len(entries))
			entries = append(entries, treeEntry{rel: rel, fi: fi})
			total += fi.Size()
			return nil
		default:
			return fmt.Errorf("%s: not a directory or a regular file (%v)", path, mode.Type())
		}
	})
	if err != nil {
		return "", 0, 0, err
	}
	// Largest first: the big files do not all end up last on one worker.
	slices.SortStableFunc(files, func(i, j int) int {
		return cmp.Compare(entries[j].fi.Size(), entries[i].fi.Size())
	})
	if err := copyFiles(src, dst, a, entries, files); err != nil {
		return "", 0, 0, err
	}
	h := sha256.New()
	for _, e := range entries {
		var hdr [20]byte
		binary.BigEndian.PutUint32(hdr[0:], uint32(e.fi.Mode()))
		binary.BigEndian.PutUint64(hdr[4:], uint64(e.fi.Size()))
		binary.BigEndian.PutUint64(hdr[12:], uint64(len(e.rel)))
		h.Write(hdr[:])
		io.WriteString(h, e.rel)
		if e.fi.Mode().IsRegular() {
			h.Write(e.sum[:])
		}
	}
	return hex.EncodeToString(h.Sum(nil)), len(files), total, nil
}

// copyFiles runs copyFile for entries[files[...]] on copyWorkers
// goroutines, setting each one's sum; it stops at the first error.
func copyFiles(src, dst string, a account, entries []treeEntry, files []int) error {
	zero := make([]byte, hashBlock)
	workers := 1
	if dst != "" {
		workers = max(1, min(copyWorkers, len(files)))
	}
	errs := make([]error, workers)
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, hashBlock)
			for !failed.Load() {
				i := int(next.Add(1)) - 1
				if i >= len(files) {
					return
				}
				e := &entries[files[i]]
				sum, err := copyFile(filepath.Join(src, e.rel), dst, e.rel, e.fi, a, buf, zero)
				if err != nil {
					errs[w] = err
					failed.Store(true)
					return
				}
				e.sum = sum
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// copyFile returns the fileHash of the regular file path and copies it to
// dst/rel (when dst is not ""); see copyTree. A file of more than one
// block is allocated whole first; one of a single block is read first and
// then either written (which allocates it) or, all zero, allocated: most
// files of a data directory are small, and most of those hold data.
func copyFile(path, dst, rel string, fi fs.FileInfo, a account, buf, zero []byte) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	in, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return sum, err
	}
	defer in.Close()
	var out *os.File
	if dst != "" {
		out, err = os.OpenFile(filepath.Join(dst, rel), os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
		if err != nil {
			return sum, err
		}
		defer out.Close()
		if a.asRoot {
			if err := out.Chown(int(a.uid), int(a.gid)); err != nil {
				return sum, err
			}
		}
		if err := out.Chmod(fi.Mode().Perm()); err != nil {
			return sum, err
		}
	}
	first := fi.Size() > int64(len(buf)) // allocate before writing
	if out != nil && first {
		if err := allocate(out, rel, fi.Size()); err != nil {
			return sum, err
		}
	}
	h := sha256.New()
	holes := false
	var off int64
	for off < fi.Size() {
		n, err := io.ReadFull(in, buf[:min(int64(len(buf)), fi.Size()-off)])
		if err != nil {
			return sum, fmt.Errorf("while reading %s: %w", rel, err)
		}
		b := buf[:n]
		if bytes.Equal(b, zero[:n]) {
			h.Write([]byte{'Z'})
			holes = true
		} else {
			h.Write([]byte{'D'})
			h.Write(b)
			if out != nil {
				if _, err := out.WriteAt(b, off); err != nil {
					return sum, err
				}
			}
		}
		off += int64(n)
	}
	// A file that grew meanwhile is not what was hashed.
	if n, _ := in.Read(buf[:1]); n != 0 {
		return sum, fmt.Errorf("%s changed while it was copied", rel)
	}
	h.Sum(sum[:0])
	if out == nil {
		return sum, nil
	}
	if holes && !first {
		if err := allocate(out, rel, fi.Size()); err != nil {
			return sum, err
		}
	}
	return sum, out.Close()
}

// allocate allocates size bytes of f (file rel) and sets its size; where
// the filesystem cannot allocate ahead it only sets the size.
func allocate(f *os.File, rel string, size int64) error {
	if err := syscall.Fallocate(int(f.Fd()), 0, 0, size); err != nil {
		if !errors.Is(err, syscall.EOPNOTSUPP) {
			return fmt.Errorf("while allocating %s: %w", rel, err)
		}
		return f.Truncate(size)
	}
	return nil
}

// syncFS flushes the filesystem holding dir (syncfs(2)).
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("while flushing %s: %w", dir, err)
	}
	return nil
}

// randomSuffix is a name part no other claim or build uses.
func randomSuffix() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
