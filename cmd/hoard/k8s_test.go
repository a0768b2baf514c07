package main

import (
	"strings"
	"testing"
)

func TestParseImages(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    map[string]string
		wantErr bool
	}{
		{"", map[string]string{}, false},
		{"mariadb=r/m:10.11", map[string]string{"mariadb": "r/m:10.11"}, false},
		{" mariadb = r/m:1 , redis=r/r:7 ", map[string]string{"mariadb": "r/m:1", "redis": "r/r:7"}, false},
		{"postgresql=reg:5000/pg@sha256:abc", map[string]string{"postgresql": "reg:5000/pg@sha256:abc"}, false},
		{"mariadb", nil, true},
		{"mariadb=", nil, true},
		{"=img", nil, true},
		{"oracle=img", nil, true},
		{"mariadb=a,mariadb=b", nil, true},
		{"mariadb=a b", nil, true},
	} {
		got, err := parseImages(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("parseImages(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if len(got) != len(tc.want) {
			t.Errorf("parseImages(%q) = %v, want %v", tc.in, got, tc.want)
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("parseImages(%q)[%s] = %q, want %q", tc.in, k, got[k], v)
			}
		}
	}
}

func TestDriverFlags(t *testing.T) {
	dir := t.TempDir()
	c, err := parseServeFlags([]string{"--data-dir", dir, "--driver", "kubernetes", "--k8s-images", "redis=r:7",
		"--k8s-storage-class", "fast", "--k8s-keep-volumes", "--k8s-namespace-prefix", "db-"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Driver != "kubernetes" || c.K8sStorageClass != "fast" || !c.K8sKeepVolumes || c.K8sNamespacePrefix != "db-" {
		t.Errorf("config = %+v", c)
	}
	for _, args := range [][]string{
		{"--driver", "docker"},
		{"--k8s-images", "nope"},
		{"--k8s-namespace-prefix", "Bad_"},
	} {
		if _, err := parseServeFlags(append([]string{"--data-dir", dir}, args...)); err == nil {
			t.Errorf("parseServeFlags(%q) succeeded", args)
		}
	}
	t.Setenv("HOARD_K8S_KEEP_VOLUMES", "true")
	t.Setenv("HOARD_DRIVER", "kubernetes")
	c, err = parseServeFlags([]string{"--data-dir", dir})
	if err != nil || !c.K8sKeepVolumes || c.Driver != "kubernetes" {
		t.Errorf("from the environment: %+v, %v", c, err)
	}
}

func FuzzParseImages(f *testing.F) {
	for _, s := range []string{"", "mariadb=a", "mariadb=a,redis=b", "x=y", "=,=", "mariadb=a=b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseImages(s)
		if err != nil {
			return
		}
		for eng, img := range m {
			if img == "" || strings.ContainsAny(img, " ,") {
				t.Errorf("parseImages(%q): %s=%q", s, eng, img)
			}
		}
	})
}
