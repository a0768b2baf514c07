package metrics

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/model"
)

// deployDir holds the Grafana dashboard and the Prometheus alert rules.
var deployDir = filepath.Join("..", "..", "deploy")

// families returns the label names of every hoard_* series the registry
// exposes (histograms under their _bucket, _sum and _count names too),
// after one observation of each kind.
func families(t *testing.T) map[string][]string {
	t.Helper()
	m := newTestMetrics(t)
	now := m.cfg.Now()
	m.ObserveRequest("GET", "/v1.0", 200, time.Millisecond)
	m.ObserveTask(&model.Task{Kind: model.TaskBackup, Created: now}, model.TaskFailed)
	m.ObserveEngine(driver.Event{Kind: driver.EventExited})
	m.ObserveBackup(&model.Backup{Datastore: "mysql", Size: 1, Created: now})
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), Namespace+"_") {
			continue
		}
		var labels []string
		if len(mf.GetMetric()) > 0 {
			for _, lp := range mf.GetMetric()[0].GetLabel() {
				labels = append(labels, lp.GetName())
			}
		}
		out[mf.GetName()] = labels
		if mf.GetType().String() == "HISTOGRAM" {
			out[mf.GetName()+"_bucket"] = append(slices.Clone(labels), "le")
			out[mf.GetName()+"_sum"] = labels
			out[mf.GetName()+"_count"] = labels
		}
	}
	return out
}

// selectorRE finds a hoard metric name and its label matchers, if any.
var selectorRE = regexp.MustCompile(`\b(hoard_[a-z_]+)(\{([^}]*)\})?`)

// matcherRE is one label matcher.
var matcherRE = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"[^"]*"\s*$`)

// checkExpr checks what can be checked of a PromQL expression without a
// PromQL parser: brackets balance, and every hoard metric it names exists
// with the labels it matches on.
func checkExpr(t *testing.T, where, expr string, fams map[string][]string) {
	t.Helper()
	if strings.TrimSpace(expr) == "" {
		t.Errorf("%s: empty expression", where)
		return
	}
	var stack []rune
	pairs := map[rune]rune{')': '(', ']': '[', '}': '{'}
	inString := false
	for _, r := range expr {
		switch {
		case r == '"':
			inString = !inString
		case inString:
		case r == '(' || r == '[' || r == '{':
			stack = append(stack, r)
		case pairs[r] != 0:
			if len(stack) == 0 || stack[len(stack)-1] != pairs[r] {
				t.Errorf("%s: unbalanced %q in %s", where, r, expr)
				return
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) > 0 || inString {
		t.Errorf("%s: unclosed brackets or string in %s", where, expr)
	}
	for _, m := range selectorRE.FindAllStringSubmatch(expr, -1) {
		labels, ok := fams[m[1]]
		if !ok {
			t.Errorf("%s: metric %s does not exist", where, m[1])
			continue
		}
		if m[3] == "" {
			continue
		}
		for _, matcher := range strings.Split(m[3], ",") {
			lm := matcherRE.FindStringSubmatch(matcher)
			if lm == nil {
				t.Errorf("%s: cannot read the matcher %q of %s", where, matcher, m[1])
				continue
			}
			// job and instance are Prometheus's own target labels.
			if name := lm[1]; name != "job" && name != "instance" && !slices.Contains(labels, name) {
				t.Errorf("%s: %s has no label %s (has %v)", where, m[1], name, labels)
			}
		}
	}
}

func TestAlertRules(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(deployDir, "prometheus", "hoard-alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("hoard-alerts.yml: %v", err)
	}
	if len(doc.Groups) == 0 {
		t.Fatal("hoard-alerts.yml has no rule groups")
	}
	fams := families(t)
	seen := map[string]bool{}
	for _, g := range doc.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("group %q: want a name and rules", g.Name)
		}
		for _, r := range g.Rules {
			if r.Alert == "" || seen[r.Alert] {
				t.Errorf("alert %q: empty or repeated name", r.Alert)
			}
			seen[r.Alert] = true
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("alert %s: for %q: %v", r.Alert, r.For, err)
				}
			}
			if !slices.Contains([]string{"critical", "warning", "info"}, r.Labels["severity"]) {
				t.Errorf("alert %s: severity %q", r.Alert, r.Labels["severity"])
			}
			if r.Annotations["summary"] == "" {
				t.Errorf("alert %s: no summary", r.Alert)
			}
			checkExpr(t, "alert "+r.Alert, r.Expr, fams)
		}
	}
}

func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(deployDir, "grafana", "hoard-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		ID      int    `json:"id"`
		Type    string `json:"type"`
		Title   string `json:"title"`
		GridPos *struct {
			X, Y, W, H int
		} `json:"gridPos"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	}
	var dash struct {
		Title  string  `json:"title"`
		UID    string  `json:"uid"`
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("hoard-dashboard.json: %v", err)
	}
	if dash.Title == "" || dash.UID == "" || len(dash.Panels) == 0 {
		t.Fatalf("dashboard: title %q, uid %q, %d panels", dash.Title, dash.UID, len(dash.Panels))
	}
	fams := families(t)
	ids := map[int]bool{}
	used := map[string]bool{}
	for _, p := range dash.Panels {
		if ids[p.ID] || p.GridPos == nil || p.Title == "" {
			t.Errorf("panel %d %q: repeated id, no position or no title", p.ID, p.Title)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			checkExpr(t, "panel "+p.Title, tg.Expr, fams)
			for _, m := range selectorRE.FindAllStringSubmatch(tg.Expr, -1) {
				used[m[1]] = true
			}
		}
	}
	// Every hoard metric is on the dashboard.
	for name := range fams {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
		if base == name && !used[name] && !used[name+"_bucket"] && !used[name+"_count"] {
			t.Errorf("the dashboard does not show %s", name)
		}
	}
}
