package depcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// module is hoard's module path; patterns below are relative to it.
const module = "github.com/hoard-db/hoard"

// Package sets the rules share.
var (
	// engines are the concrete engine packages.
	engines = []string{"internal/datastore/mariadb", "internal/datastore/postgresql", "internal/datastore/redis"}
	// backends are the concrete implementations of hoard's interfaces.
	backends = append([]string{
		"internal/store/sqlite", "internal/store/postgres",
		"internal/driver/local", "internal/driver/kubernetes", "internal/driver/fake",
	}, engines...)
	// testHelpers exist for tests: fakes, stand-ins and contract suites.
	testHelpers = []string{
		"internal/driver/fake", "internal/driver/drivertest", "internal/store/storetest",
		"internal/datastore/enginetest", "internal/datastore/admintest",
		"internal/k8stest", "internal/pgtest",
	}
	// leaves are small one-purpose utilities.
	leaves = []string{"internal/safetext", "internal/clock", "internal/secret", "internal/netpool", "internal/cgroup", "internal/datastore/engineproc"}
	// server is every package of the server side.
	server = []string{
		"internal/api", "internal/service/...", "internal/task", "internal/store/...", "internal/driver/...",
		"internal/datastore/...", "internal/identity", "internal/backup", "internal/metrics",
	}
)

// A rule constrains what the packages matched by from may import. A
// pattern is a package path relative to the module, or one ending in
// "/..." for that package and every package below it.
type rule struct {
	from   []string // the packages the rule applies to
	except []string // packages of from the rule does not apply to
	// never lists the hoard packages they must not import; with only set
	// instead, they may import these hoard packages and no others.
	never, only []string
	// deep applies the rule to every package they depend on, directly or
	// not, rather than to their own imports only.
	deep bool
	why  string
}

var rules = []rule{
	{from: []string{"internal/model", "internal/fault"}, only: []string{}, deep: true,
		why: "model and fault are the vocabulary every package may share; they depend on nothing of hoard"},
	{from: leaves, only: []string{}, deep: true,
		why: "one-purpose utilities, usable from anywhere, depend on nothing of hoard"},
	{from: []string{"..."}, except: []string{"cmd/..."}, never: backends,
		why: "only cmd/ picks concrete backends (store, driver, engine); everything else sees their interfaces"},
	{from: []string{"..."}, except: testHelpers, never: testHelpers,
		why: "fakes and contract suites are for tests and must not reach the hoard binary"},
	{from: []string{"..."}, except: []string{"cmd/...", "internal/api", "internal/service/..."}, never: []string{"internal/service/..."},
		why: "the service composes every layer: only the API (and cmd/) call it, nothing below calls up"},
	{from: []string{"internal/datastore"}, only: []string{"internal/fault", "internal/model"}, deep: true,
		why: "the engine contract sits below everything that uses it"},
	{from: engines, only: []string{"internal/datastore", "internal/datastore/...", "internal/fault", "internal/model"}, deep: true,
		why: "an engine knows its server, not where or how hoard runs it (no driver, store, task, service or API)"},
	{from: engines, never: engines,
		why: "engines are independent of each other; shared plumbing goes into a package of internal/datastore"},
	{from: []string{"internal/driver/..."}, never: append([]string{"internal/api", "internal/service/...", "internal/task", "internal/store/...", "internal/identity", "internal/backup", "internal/metrics"}, engines...),
		why: "a driver runs any datastore.Engine for an instance spec; it knows neither hoard's records and requests nor a particular engine"},
	{from: []string{"internal/store/..."}, only: []string{"internal/store/...", "internal/model", "internal/fault", "internal/clock"}, deep: true,
		why: "the metadata store is below every layer that records something in it"},
	{from: []string{"internal/task"}, never: []string{"internal/api", "internal/service/...", "internal/identity", "internal/metrics", "internal/cli"},
		why: "the runner executes the steps it is given; what the steps do lives above it"},
	{from: []string{"internal/api"}, never: []string{"internal/driver/...", "internal/task", "internal/cli"},
		why: "the HTTP layer talks to its Backend; where and how instances run is behind it"},
	{from: []string{"internal/identity"}, never: []string{"internal/api", "internal/driver/...", "internal/datastore/...", "internal/task", "internal/backup"},
		why: "authentication knows tokens, principals and their store only"},
	{from: []string{"internal/backup"}, only: []string{"internal/fault", "internal/model"}, deep: true,
		why: "artifact storage is a leaf the service and the API use"},
	{from: []string{"internal/metrics"}, only: []string{"internal/model", "internal/store", "internal/fault", "internal/driver"},
		why: "metrics read the store and the driver's event kinds (its interface package); they never call the service"},
	{from: []string{"internal/dashboard"}, only: []string{"internal/identity"},
		why: "the dashboard is a client of the API handler, in process: it reaches the service and the store only through the API's authorisation"},
	{from: []string{"internal/cli"}, never: server, deep: true,
		why: "the client talks to hoard over HTTP only and builds without the server"},
}

// pkg is what go list reports of one package.
type pkg struct {
	ImportPath                        string
	Dir                               string
	Imports                           []string
	GoFiles, CgoFiles, IgnoredGoFiles []string
}

// listPackages returns the module's packages by import path relative to
// the module (the module root itself is ""), listed once per test binary.
func listPackages(t *testing.T) map[string]*pkg {
	t.Helper()
	pkgs, err := listed()
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

var listed = sync.OnceValues(goList)

func goList() (map[string]*pkg, error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("go list needs the go command: %w", err)
	}
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(gobin, "list", "-json", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w\n%s", err, stderr.Bytes())
	}
	pkgs := make(map[string]*pkg)
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list output: %w", err)
		}
		if rel, ok := relative(p.ImportPath); ok {
			pkgs[rel] = &p
		}
	}
	if len(pkgs) == 0 {
		return nil, errors.New("go list found no packages")
	}
	return pkgs, nil
}

// moduleRoot is the directory of hoard's go.mod, above this package's.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("no go.mod above the test's directory")
		}
		dir = up
	}
}

// relative strips the module path from a hoard import path; ok is false
// for any other package.
func relative(path string) (string, bool) {
	if path == module {
		return "", true
	}
	rel, ok := strings.CutPrefix(path, module+"/")
	return rel, ok
}

// matches reports whether p (relative) matches pattern.
func matches(pattern, p string) bool {
	if pattern == "..." {
		return true
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return p == base || strings.HasPrefix(p, base+"/")
	}
	return p == pattern
}

func matchesAny(patterns []string, p string) bool {
	return slices.ContainsFunc(patterns, func(pat string) bool { return matches(pat, p) })
}

// hoardImports are p's direct imports of hoard packages, relative.
func hoardImports(p *pkg) []string {
	var out []string
	for _, imp := range p.Imports {
		if rel, ok := relative(imp); ok {
			out = append(out, rel)
		}
	}
	return out
}

// forbidden reports whether r forbids from importing to. A package may
// always import its own subpackages.
func (r rule) forbidden(from, to string) bool {
	if strings.HasPrefix(to, from+"/") {
		return false
	}
	if r.only != nil {
		return !matchesAny(r.only, to)
	}
	return matchesAny(r.never, to)
}

// chains returns, for every hoard package start depends on, the shortest
// import chain to it (start first).
func chains(pkgs map[string]*pkg, start string) map[string][]string {
	seen := map[string][]string{start: {start}}
	queue := []string{start}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		p := pkgs[cur]
		if p == nil {
			continue
		}
		for _, imp := range hoardImports(p) {
			if _, ok := seen[imp]; !ok {
				seen[imp] = append(slices.Clip(seen[cur]), imp)
				queue = append(queue, imp)
			}
		}
	}
	delete(seen, start)
	return seen
}

// TestImportRules checks every rule against the module's non-test imports.
func TestImportRules(t *testing.T) {
	for _, v := range violations(listPackages(t), rules) {
		t.Error(v)
	}
}

// violations returns one line per import edge (or, for a deep rule, per
// dependency) of pkgs that breaks one of rules.
func violations(pkgs map[string]*pkg, rules []rule) []string {
	names := slices.Sorted(mapKeys(pkgs))
	var out []string
	for _, r := range rules {
		for _, name := range names {
			if !matchesAny(r.from, name) || matchesAny(r.except, name) {
				continue
			}
			if !r.deep {
				for _, imp := range hoardImports(pkgs[name]) {
					if r.forbidden(name, imp) {
						out = append(out, fmt.Sprintf("%s imports %s: %s", name, imp, r.why))
					}
				}
				continue
			}
			deps := chains(pkgs, name)
			for _, dep := range slices.Sorted(mapKeys(deps)) {
				if r.forbidden(name, dep) {
					out = append(out, fmt.Sprintf("%s depends on %s (%s): %s", name, dep, strings.Join(deps[dep], " -> "), r.why))
				}
			}
		}
	}
	return out
}

// TestViolations runs the checker on small made-up graphs.
func TestViolations(t *testing.T) {
	graph := func(edges ...string) map[string]*pkg {
		pkgs := make(map[string]*pkg)
		for _, e := range edges {
			from, to, _ := strings.Cut(e, " ")
			for _, n := range []string{from, to} {
				if n != "" && pkgs[n] == nil {
					pkgs[n] = &pkg{ImportPath: module + "/" + n}
				}
			}
			if to != "" {
				pkgs[from].Imports = append(pkgs[from].Imports, module+"/"+to, "fmt")
			}
		}
		return pkgs
	}
	tests := []struct {
		name  string
		pkgs  map[string]*pkg
		rule  rule
		wants []string
	}{
		{"never: direct edge", graph("a b", "b c"),
			rule{from: []string{"a"}, never: []string{"c/..."}, why: "w"}, nil},
		{"never: named edge", graph("a b", "b c"),
			rule{from: []string{"b"}, never: []string{"c/..."}, why: "w"}, []string{"b imports c: w"}},
		{"deep: the chain", graph("a b", "b c"),
			rule{from: []string{"a"}, never: []string{"c"}, deep: true, why: "w"}, []string{"a depends on c (a -> b -> c): w"}},
		{"only: nothing else", graph("a b", "a x/y"),
			rule{from: []string{"a"}, only: []string{"x/..."}, why: "w"}, []string{"a imports b: w"}},
		{"only empty: a leaf", graph("a b", "c"),
			rule{from: []string{"a", "c"}, only: []string{}, why: "w"}, []string{"a imports b: w"}},
		{"own subpackage", graph("a a/sub"),
			rule{from: []string{"a"}, only: []string{}, why: "w"}, nil},
		{"except", graph("cmd/x a", "b a"),
			rule{from: []string{"..."}, except: []string{"cmd/..."}, never: []string{"a"}, why: "w"}, []string{"b imports a: w"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := violations(tt.pkgs, []rule{tt.rule})
			if !slices.Equal(got, tt.wants) {
				t.Errorf("got %q, want %q", got, tt.wants)
			}
		})
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestRulesMatchPackages keeps the rules honest: every pattern names at
// least one package of the module, so a rename cannot silently disable a
// rule.
func TestRulesMatchPackages(t *testing.T) {
	pkgs := listPackages(t)
	check := func(pattern string) {
		for name := range pkgs {
			if matches(pattern, name) {
				return
			}
		}
		t.Errorf("pattern %q matches no package", pattern)
	}
	for _, r := range rules {
		for _, list := range [][]string{r.from, r.except, r.never, r.only} {
			for _, pat := range list {
				check(pat)
			}
		}
	}
}

// engineNames are the engine and datastore names that only
// internal/datastore/... and the wiring in cmd/hoard may spell out.
var engineNames = []string{"mariadb", "mysql", "postgresql", "redis"}

// engineNameOffenders are the files allowed to name an engine outside
// internal/datastore/... and cmd/hoard, with what they name it for. Engine
// knowledge lives behind datastore capabilities; the exceptions are on the
// client side, which builds without the server. An entry that no longer
// offends is reported by the test.
var engineNameOffenders = map[string]string{
	"internal/cli/connect.go": "hoard instance connect maps a datastore type to the engine's own client (mariadb, psql, " +
		"redis-cli), its password variable and URI scheme; the client may not import internal/datastore/...",
	"internal/dashboard/connect.go": "the dashboard shows each engine's client command and URI, as hoard instance connect " +
		"does; it is a client of the API and reaches no datastore package",
}

// TestNoEngineNamesOutsideDatastore fails on a string literal naming an
// engine (case-insensitive) in non-test code outside internal/datastore/...
// and cmd/hoard, unless its file is a known offender. Test helpers
// (testHelpers) are test code: their fixtures may name engines.
func TestNoEngineNamesOutsideDatastore(t *testing.T) {
	pkgs := listPackages(t)
	found := make(map[string][]string) // file -> "line: literal"
	for name, p := range pkgs {
		if matches("internal/datastore/...", name) || matches("cmd/hoard", name) || matchesAny(testHelpers, name) {
			continue
		}
		files := slices.Concat(p.GoFiles, p.CgoFiles, p.IgnoredGoFiles)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			hits, err := engineLiterals(filepath.Join(p.Dir, f))
			if err != nil {
				t.Fatal(err)
			}
			if len(hits) > 0 {
				found[filepath.ToSlash(filepath.Join(name, f))] = hits
			}
		}
	}
	for _, file := range slices.Sorted(mapKeys(found)) {
		if _, ok := engineNameOffenders[file]; !ok {
			t.Errorf("%s names an engine (engine knowledge belongs in internal/datastore/..., wiring in cmd/hoard):\n\t%s",
				file, strings.Join(found[file], "\n\t"))
		}
	}
	for _, file := range slices.Sorted(mapKeys(engineNameOffenders)) {
		if _, ok := found[file]; !ok {
			t.Errorf("%s no longer names an engine: remove it from engineNameOffenders", file)
		}
	}
}

// engineLiterals returns "line: literal" for each string literal in the
// Go file path that contains an engine name.
func engineLiterals(path string) ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var hits []string
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		s, err := strconv.Unquote(lit.Value)
		if err != nil {
			return true
		}
		lower := strings.ToLower(s)
		if slices.ContainsFunc(engineNames, func(e string) bool { return strings.Contains(lower, e) }) {
			hits = append(hits, fmt.Sprintf("%d: %s", fset.Position(lit.Pos()).Line, lit.Value))
		}
		return true
	})
	return hits, nil
}
