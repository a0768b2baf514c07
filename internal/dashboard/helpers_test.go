package dashboard

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFieldErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		msg      string
		fallback string
		want     map[string]string
	}{
		{"Volume 'size' cannot exceed maximum of 10 GB, 50 cannot be accepted.", "", map[string]string{"volume": "Volume 'size' cannot exceed maximum of 10 GB, 50 cannot be accepted."}},
		{"Validation error: instance 'name' is a required property; instance 'flavorRef' is a required property",
			"", map[string]string{"name": "instance 'name' is a required property", "flavor": "instance 'flavorRef' is a required property"}},
		{"Flavor 99 could not be found.", "", map[string]string{"flavor": "Flavor 99 could not be found."}},
		{"Datastore version 'x' could not be found.", "", map[string]string{"datastore": "Datastore version 'x' could not be found."}},
		{"Backup 1 could not be found.", "", map[string]string{"backup": "Backup 1 could not be found."}},
		{"Quota exceeded for instances.", "", map[string]string{}},
		{"Quota exceeded for instances.", "name", map[string]string{"name": "Quota exceeded for instances."}},
		{"Validation error: user 'name' is invalid; password is too short", "", map[string]string{"user_name": "user 'name' is invalid", "user_password": "password is too short"}},
	}
	for _, tt := range tests {
		got := fieldErrors(tt.msg, createFields, tt.fallback)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("fieldErrors(%q) (-want +got):\n%s", tt.msg, diff)
		}
	}
}

func TestConnections(t *testing.T) {
	t.Parallel()
	mk := func(typ, ip string, port int) *instance {
		in := &instance{Port: port}
		in.Datastore.Type = typ
		if ip != "" {
			in.IP = []string{ip}
		}
		return in
	}
	tests := []struct {
		in       *instance
		user, db string
		want     []string
	}{
		{mk("mysql", "127.0.1.2", 3306), "app", "shop", []string{"mariadb -h 127.0.1.2 -P 3306 -u app -p shop", "mysql://app@127.0.1.2:3306/shop"}},
		{mk("mariadb", "127.0.1.2", 0), "", "", []string{"mariadb -h 127.0.1.2 -P 3306 -u root -p", "mysql://root@127.0.1.2:3306/"}},
		{mk("postgresql", "127.0.1.3", 5432), "app", "", []string{"psql -h 127.0.1.3 -p 5432 -U app -d postgres", "postgresql://app@127.0.1.3:5432/postgres"}},
		{mk("redis", "127.0.1.4", 6379), "app", "", []string{"redis-cli -h 127.0.1.4 -p 6379 --user app --askpass", "redis://app@127.0.1.4:6379/0"}},
		{mk("postgresql", "fd00::5", 5432), "a b", "x", []string{"psql -h fd00::5 -p 5432 -U 'a b' -d x", "postgresql://a%20b@[fd00::5]:5432/x"}},
		{mk("mysql", "127.0.1.2", 3306), "o'neil", "d;rm", []string{`mariadb -h 127.0.1.2 -P 3306 -u 'o'\''neil' -p 'd;rm'`, "mysql://o%27neil@127.0.1.2:3306/d;rm"}},
		{mk("mysql", "", 3306), "app", "shop", nil},
		{mk("cassandra", "127.0.1.9", 9042), "app", "", nil},
	}
	for _, tt := range tests {
		var got []string
		for _, c := range connections(tt.in, tt.user, tt.db) {
			got = append(got, c.Value)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("connections(%s, %q, %q) (-want +got):\n%s", tt.in.Datastore.Type, tt.user, tt.db, diff)
		}
	}
}

func TestSafeNext(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"/dashboard/instances/x":       "/dashboard/instances/x",
		"":                             "",
		"https://evil.example/":        "",
		"//evil.example/":              "",
		"/v1.0/p/instances":            "",
		"/dashboard/\r\nSet-Cookie: x": "",
		"/dashboard\\evil":             "",
	}
	for in, want := range tests {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    string // JSON of the values
		wantErr bool
	}{
		{"max_connections = 200\nsql_mode = 'ANSI'\n# a comment\n\nread_only=true", `{"max_connections":200,"read_only":true,"sql_mode":"ANSI"}`, false},
		{"", `{}`, false},
		{"just a line", "", true},
		{"= 5", "", true},
		{"wait_timeout = 1.5", `{"wait_timeout":1.5}`, false},
	}
	for _, tt := range tests {
		got, err := parseValues(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseValues(%q) err = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		b, _ := json.Marshal(got)
		if string(b) != tt.want {
			t.Errorf("parseValues(%q) = %s, want %s", tt.in, b, tt.want)
		}
	}
}

func FuzzParseValues(f *testing.F) {
	f.Add("max_connections = 200\nsql_mode = 'ANSI'")
	f.Add("a=1\n=\n#x\nb = \"c\"")
	f.Fuzz(func(t *testing.T, in string) {
		vals, err := parseValues(in)
		if err != nil {
			return
		}
		if _, err := json.Marshal(vals); err != nil {
			t.Fatalf("parseValues(%q) gave values that do not encode: %v", in, err)
		}
		for k := range vals {
			if k == "" || strings.ContainsAny(k, "\n=") {
				t.Fatalf("parseValues(%q) gave key %q", in, k)
			}
		}
	})
}

func FuzzFieldErrors(f *testing.F) {
	f.Add("Validation error: instance 'name' is a required property; instance 'flavorRef' is a required property")
	f.Add("Volume 'size' cannot exceed maximum")
	f.Fuzz(func(t *testing.T, msg string) {
		for field, m := range fieldErrors(msg, createFields, "name") {
			if m == "" || !strings.Contains(msg, strings.Split(m, "; ")[0]) {
				t.Fatalf("fieldErrors(%q)[%s] = %q, not part of the message", msg, field, m)
			}
		}
	})
}
