package cli

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/hoard-db/hoard/internal/safetext"
)

func FuzzParseValues(f *testing.F) {
	for _, s := range []string{"a=1", "connect_timeout=120,collation_server=latin1", "x=true,y=0.5", "=", ",,", "k=v=w"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseValues(s)
		if err != nil {
			if !errors.Is(err, errUsage) {
				t.Fatalf("parseValues(%q) err = %v, not a usage error", s, err)
			}
			return
		}
		for k := range m {
			if k == "" {
				t.Fatalf("parseValues(%q) gave an empty key", s)
			}
		}
		_ = formatValues(m)
	})
}

func FuzzParseUsers(f *testing.F) {
	for _, s := range []string{"app:pw", "a@h:p:d1,d2;b:q", ":", ";;", "a:b:c:d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		us, err := parseUsers(s, []string{"db"})
		if err != nil {
			return
		}
		for _, u := range us {
			if u.Name == "" {
				t.Fatalf("parseUsers(%q) gave %+v", s, u)
			}
		}
	})
}

func FuzzParseFault(f *testing.F) {
	for _, s := range []string{`{"itemNotFound":{"code":404,"message":"x"}}`, `{"error":{"title":"T","message":"m"}}`, `{}`, `[]`, `{"a":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		name, msg, ok := parseFault(b)
		if ok && (name == "" && msg == "" || msg == "") {
			t.Fatalf("parseFault(%q) = %q, %q, ok", b, name, msg)
		}
	})
}

func FuzzWriteJSON(f *testing.F) {
	for _, s := range []string{"", "db", hostileName, "\u2066x\u2069", "é🙂", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b strings.Builder
		if err := writeJSON(&b, map[string]string{"name": s}); err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(b.String(), "\n") {
			if err := safetext.Check(line); err != nil {
				t.Fatalf("writeJSON(%q) line %q: %v", s, line, err)
			}
		}
		var got map[string]string
		if err := json.Unmarshal([]byte(b.String()), &got); err != nil {
			t.Fatalf("writeJSON(%q) = %q: %v", s, b.String(), err)
		}
		if utf8.ValidString(s) && got["name"] != s {
			t.Fatalf("writeJSON(%q) decodes to %q", s, got["name"])
		}
	})
}

// FuzzWriteYAML: -o yaml output has no control or bidi character on any
// line, and decodes to the same text, keys included.
func FuzzWriteYAML(f *testing.F) {
	for _, s := range []string{"", "db", "123", "true", "null", "- x", "a: b", "#c", hostileName, "\u2066x\u2069", "é🙂",
		"\u0085nel", "\u2028", "\ufeffbom", "line\nbreak", "tab\there", "  lead", "trail  ", "'q'", `"d"`, "\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return // JSON, and so the views, cannot hold it
		}
		v, err := toOrdered(map[string]any{"name": s, "list": []string{s}, "values": map[string]string{s: s}})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := writeYAML(&b, v); err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(b.String(), "\n") {
			if err := safetext.Check(line); err != nil {
				t.Fatalf("writeYAML(%q) line %q: %v", s, line, err)
			}
		}
		var got struct {
			Name   string            `yaml:"name"`
			List   []string          `yaml:"list"`
			Values map[string]string `yaml:"values"`
		}
		if err := yaml.Unmarshal([]byte(b.String()), &got); err != nil {
			t.Fatalf("writeYAML(%q) = %q: %v", s, b.String(), err)
		}
		if got.Name != s || len(got.List) != 1 || got.List[0] != s || got.Values[s] != s {
			t.Fatalf("writeYAML(%q) = %q decodes to %+v", s, b.String(), got)
		}
	})
}
