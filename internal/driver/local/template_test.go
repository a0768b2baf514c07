package local

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// ready is the number of ready pool directories of engine name.
func ready(d *Driver, name string) int {
	n := 0
	for _, s := range d.Templates() {
		if s.Engine == name {
			n += s.Ready
		}
	}
	return n
}

// content is the file at path, "" if it cannot be read (yet).
func content(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// poolLeftovers lists the entries of root's pool with a dot (builds,
// claims, used or discarded directories).
func poolLeftovers(t *testing.T, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, templatesName))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out
}

// fileMeta is what a fresh init and a pooled copy must agree on: the
// type and mode of every path, and whether the instance user owns it.
type fileMeta struct {
	mode    fs.FileMode
	ownerOK bool
}

// layout lists dir's tree (relative paths) with fileMeta for account a.
func layout(t *testing.T, dir string, a account) map[string]fileMeta {
	t.Helper()
	out := map[string]fileMeta{}
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		st := fi.Sys().(*syscall.Stat_t)
		out[rel] = fileMeta{mode: fi.Mode(), ownerOK: !a.asRoot || (st.Uid == a.uid && st.Gid == a.gid)}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// compareLayouts fails unless a pooled instance's data directory has the
// files, modes and (instance) owners of a freshly initialised one.
func compareLayouts(t *testing.T, fresh, pooled map[string]fileMeta) {
	t.Helper()
	for p, m := range fresh {
		got, ok := pooled[p]
		switch {
		case !ok:
			t.Errorf("pooled data lacks %s", p)
		case got.mode != m.mode:
			t.Errorf("%s: mode %v pooled, %v fresh", p, got.mode, m.mode)
		case !got.ownerOK || !m.ownerOK:
			t.Errorf("%s: not owned by the instance user (pooled %v, fresh %v)", p, got.ownerOK, m.ownerOK)
		}
	}
	for p := range pooled {
		if _, ok := fresh[p]; !ok {
			t.Errorf("pooled data has %s, a fresh init has not", p)
		}
	}
}

// TestTemplatePool: a create takes a pre-initialised directory (no init
// runs for it) with the files, modes and owners of a fresh init, the pool
// refills, and an instance the engine calls not templatable is
// initialised as before.
func TestTemplatePool(t *testing.T) {
	eng := &fakeEngine{serve: "serve", init: "init"}
	h := newHarness(t, eng)
	d := h.driver(func(c *Config) { c.TemplatePool = 2 })
	eventually(t, "the pool is full", func() bool { return ready(d, "fake") == 2 })
	if fi, err := os.Stat(filepath.Join(h.root, templatesName, "fake-0")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("pool directory: %v %v, want mode 0700", fi, err)
	}

	ctx := context.Background()
	s := h.spec("pooled")
	if err := d.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Join(h.root, "pooled", "log", "init.log")) {
		t.Error("the init ran for an instance the pool could serve")
	}
	if got := readFile(t, filepath.Join(d.dataDir("pooled"), "init-count")); got != "init\n" {
		t.Errorf("init-count = %q, want one init", got)
	}
	if ready(d, "fake") > 1 {
		t.Error("a used directory is still in the pool")
	}
	eventually(t, "the pool is refilled", func() bool { return ready(d, "fake") == 2 })
	// The used directory is removed by the filler, not left behind.
	eventually(t, "the used directory is removed", func() bool { return len(poolLeftovers(t, h.root)) == 0 })

	eng.mu.Lock()
	eng.tmplNone = true
	eng.mu.Unlock()
	f := h.spec("fresh")
	if err := d.Provision(ctx, f); err != nil {
		t.Fatal(err)
	}
	if !exists(filepath.Join(h.root, "fresh", "log", "init.log")) {
		t.Error("an instance that may not use the pool did not run the init")
	}
	if ready(d, "fake") != 2 {
		t.Error("an instance that may not use the pool took a directory")
	}
	compareLayouts(t, layout(t, d.dataDir("fresh"), instanceAccount(t, d, "fresh")),
		layout(t, d.dataDir("pooled"), instanceAccount(t, d, "pooled")))

	if err := d.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	waitReady(t, s)
	if err := d.Destroy(ctx, "pooled"); err != nil {
		t.Fatal(err)
	}
	if err := d.Destroy(ctx, "fresh"); err != nil {
		t.Fatal(err)
	}
}

// TestTemplatePoolRejects: a pool directory whose content no longer
// matches its manifest's hash, whose manifest is unreadable, or that an
// older engine version or an older manifest format made, is never used:
// the create runs the init and the directory is built again. A driver
// that starts checks every hash.
func TestTemplatePoolRejects(t *testing.T) {
	for _, tt := range []struct {
		name  string
		spoil func(t *testing.T, eng *fakeEngine, dir string)
	}{
		{"corrupt content", func(t *testing.T, _ *fakeEngine, dir string) {
			// Same size, other bytes: only the hash can tell.
			if err := os.WriteFile(filepath.Join(dir, templateData, "init-count"), []byte("xnit\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"extra file", func(t *testing.T, _ *fakeEngine, dir string) {
			if err := os.WriteFile(filepath.Join(dir, templateData, "planted"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"corrupt manifest", func(t *testing.T, _ *fakeEngine, dir string) {
			if err := os.WriteFile(filepath.Join(dir, templateManifest), []byte("{not json"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"older format", func(t *testing.T, _ *fakeEngine, dir string) {
			// A manifest of format 1 (no format field), hash and all.
			m, err := readManifest(dir)
			if err != nil {
				t.Fatal(err)
			}
			m.Format = 0
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, templateManifest), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"engine version changed", func(t *testing.T, eng *fakeEngine, _ string) {
			eng.mu.Lock()
			eng.tmplVer = "fake 2"
			eng.mu.Unlock()
		}},
		{"hoard's rendered config changed", func(t *testing.T, eng *fakeEngine, _ string) {
			eng.mu.Lock()
			eng.confMore = "new-default=1\n"
			eng.mu.Unlock()
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			eng := &fakeEngine{serve: "serve", init: "init"}
			h := newHarness(t, eng)
			d := h.driver(func(c *Config) { c.TemplatePool = 1 })
			eventually(t, "the pool is full", func() bool { return ready(d, "fake") == 1 })
			entry := filepath.Join(h.root, templatesName, "fake-0")
			m0, err := readManifest(entry)
			if err != nil {
				t.Fatal(err)
			}
			before := m0.Version
			if tt.name != "engine version changed" && tt.name != "hoard's rendered config changed" {
				before = "" // the same version is built again
			}
			tt.spoil(t, eng, entry)

			s := h.spec("a")
			if err := d.Provision(context.Background(), s); err != nil {
				t.Fatal(err)
			}
			if !exists(filepath.Join(h.root, "a", "log", "init.log")) {
				t.Fatal("a spoilt pool directory was used")
			}
			if got := readFile(t, filepath.Join(d.dataDir("a"), "init-count")); got != "init\n" {
				t.Errorf("init-count = %q, want the init's own", got)
			}
			if exists(filepath.Join(d.dataDir("a"), "planted")) {
				t.Error("a file of the spoilt directory reached the instance")
			}
			eventually(t, "the pool is rebuilt", func() bool {
				m, err := readManifest(entry)
				return err == nil && ready(d, "fake") == 1 && exists(filepath.Join(entry, templateData, "init-count")) &&
					content(filepath.Join(entry, templateData, "init-count")) == "init\n" && !exists(filepath.Join(entry, templateData, "planted")) &&
					m.Format == templateFormat && (tt.name != "engine version changed" || strings.HasPrefix(m.Version, "fake 2;")) &&
					m.Version != before
			})
		})
	}

	t.Run("checked at start", func(t *testing.T) {
		eng := &fakeEngine{serve: "serve", init: "init"}
		h := newHarness(t, eng)
		d := h.driver(func(c *Config) { c.TemplatePool = 1 })
		eventually(t, "the pool is full", func() bool { return ready(d, "fake") == 1 })
		d.Close()
		entry := filepath.Join(h.root, templatesName, "fake-0")
		data := filepath.Join(entry, templateData, "init-count")
		if err := os.WriteFile(data, []byte("xnit\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		// A leftover of an interrupted build goes too.
		left := filepath.Join(h.root, templatesName, ".tmp-fake-0-deadbeef")
		if err := os.Mkdir(left, 0o700); err != nil {
			t.Fatal(err)
		}
		d2 := h.driver(func(c *Config) { c.TemplatePool = 1 })
		eventually(t, "the corrupt directory is rebuilt", func() bool {
			return ready(d2, "fake") == 1 && content(data) == "init\n" && !exists(left)
		})
	})
}
