package postgresql

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hoard-db/hoard/internal/datastore"
)

const describeSample = "work_mem\tuser\tResource Usage / Memory\tINTEGER\t0\t64\t2147483647\tSets memory.\t\n" +
	"shared_buffers\tpostmaster\tResource Usage / Memory\tINTEGER\t0\t16\t1073741823\tBuffers.\t\n" +
	"random_page_cost\tuser\tQuery Tuning\tREAL\t0\t0\t1.79769e+308\tCost.\t\n" +
	"jit\tuser\tQuery Tuning\tBOOLEAN\tFALSE\t\t\tJIT.\t\n" +
	"log_statement\tsuperuser\tLogging\tENUM\tnone\t\t\tStatements.\t\n" +
	"TimeZone\tuser\tClient\tSTRING\tGMT\t\t\tZone.\t\n" +
	"data_directory\tpostmaster\tFile Locations\tSTRING\t\t\t\tData.\t\n" +
	"server_version\tinternal\tPreset\tSTRING\t15\t\t\tVersion.\t\n"

func TestParseDescribeConfig(t *testing.T) {
	got, err := ParseDescribeConfig([]byte(describeSample))
	if err != nil {
		t.Fatal(err)
	}
	want := []datastore.Parameter{
		{Name: "jit", Type: datastore.ParamBoolean},
		{Name: "log_statement", Type: datastore.ParamString, Allowed: []string{"none", "ddl", "mod", "all"}},
		{Name: "random_page_cost", Type: datastore.ParamFloat, Min: "0"},
		{Name: "shared_buffers", Type: datastore.ParamInteger, Min: "16", Max: "1073741823", RestartRequired: true},
		{Name: "timezone", Type: datastore.ParamString},
		{Name: "work_mem", Type: datastore.ParamInteger, Min: "64", Max: "2147483647"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ParseDescribeConfig mismatch (-want +got):\n%s", d)
	}
	if _, err := ParseDescribeConfig([]byte("garbage\n")); err == nil {
		t.Error("ParseDescribeConfig(garbage) = nil error")
	}
}

func FuzzParseDescribeConfig(f *testing.F) {
	f.Add([]byte(describeSample))
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := ParseDescribeConfig(b)
		if err != nil {
			return
		}
		for _, p := range ps {
			if !slices.Contains(catalogueNames, p.Name) {
				t.Errorf("parameter %q is not in the catalogue", p.Name)
			}
		}
	})
}

func TestRenderGroup(t *testing.T) {
	spec := testSpec()
	spec.Config = map[string]string{"work_mem": "8192", "jit": "true", "shared_buffers": "4096", "timezone": "Europe/Paris", "random_page_cost": "1.5"}
	files, err := process{e: New(Config{})}.Render(spec)
	if err != nil {
		t.Fatal(err)
	}
	conf := string(files[0].Content)
	for _, line := range []string{"jit = on\n", "random_page_cost = 1.5\n", "shared_buffers = 4096\n", "timezone = 'Europe/Paris'\n", "work_mem = 8192\n"} {
		if !strings.Contains(conf, "# Configuration group.\n") || !strings.Contains(conf[strings.Index(conf, "# Configuration group."):], line) {
			t.Errorf("postgresql.conf lacks %q after the group header:\n%s", line, conf)
		}
	}
	args := strings.Join(process{e: New(Config{})}.ServerArgs(spec), " ")
	if strings.Contains(args, "shared_buffers=") || !strings.Contains(args, "max_connections=") {
		t.Errorf("ServerArgs = %s; want max_connections but not the group's shared_buffers", args)
	}
	for _, bad := range []map[string]string{
		{"data_directory": "/x"},
		{"work_mem": "1'; x"},
		{"timezone": "a b"},
		{"Work_Mem": "1"},
	} {
		spec.Config = bad
		if _, err := (process{e: New(Config{})}).Render(spec); err == nil {
			t.Errorf("Render with %v = nil error", bad)
		}
	}
}

func FuzzConfLines(f *testing.F) {
	f.Add("work_mem", "8192")
	f.Add("timezone", "UTC")
	f.Fuzz(func(t *testing.T, k, v string) {
		lines, err := confLines(map[string]string{k: v})
		if err != nil {
			return
		}
		if len(lines) != 1 || strings.ContainsAny(lines[0], "\n\r\\#") || strings.Count(lines[0], "'")%2 != 0 {
			t.Errorf("confLines(%q, %q) = %q", k, v, lines)
		}
	})
}

func TestDefaults(t *testing.T) {
	d := New(Config{}).Defaults(datastore.Spec{Port: 5432, RAMMB: 1024})
	want := map[string]string{"port": "5432", "max_connections": "100", "shared_buffers": "32768", "effective_cache_size": "98304"}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("Defaults mismatch (-want +got):\n%s", diff)
	}
}

func TestTarName(t *testing.T) {
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{"base/1/123", true}, {"./PG_VERSION", true}, {"../x", false}, {"/etc/passwd", false}, {"a/../../x", false},
	} {
		if _, err := tarName(tt.in); (err == nil) != tt.ok {
			t.Errorf("tarName(%q) = %v, want ok %v", tt.in, err, tt.ok)
		}
	}
}
