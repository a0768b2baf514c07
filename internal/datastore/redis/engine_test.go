package redis

import (
	"bufio"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in      string
		want    datastore.Version
		wantErr bool
	}{
		{in: "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=ae4d7c971a948f0\n", want: datastore.Version{Name: "7.0", Version: "7.0.15"}},
		{in: "Redis server v=7.2.4", want: datastore.Version{Name: "7.2", Version: "7.2.4"}},
		{in: "Valkey server v=8.0.1", wantErr: true},
		{in: "Redis server v=7.0", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseVersion(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseVersion(%q) = %+v, %v; want %+v, err %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func FuzzParseVersion(f *testing.F) {
	f.Add("Redis server v=7.0.15 sha=0")
	f.Fuzz(func(t *testing.T, s string) {
		if v, err := ParseVersion(s); err == nil && !strings.HasPrefix(v.Version, v.Name+".") {
			t.Errorf("ParseVersion(%q) = %+v", s, v)
		}
	})
}

func testSpec() datastore.Spec {
	return datastore.Spec{InstanceID: "i", DataDir: "/srv/i/data", RunDir: "/srv/i/run", LogDir: "/srv/i/log",
		ConfDir: "/srv/i/conf", Address: "127.0.1.9", Port: 6379, RAMMB: 1024}
}

func TestRender(t *testing.T) {
	e := New(Config{})
	files, err := e.Process().Render(testSpec())
	if err != nil || len(files) != 1 || files[0].Name != ConfigFile {
		t.Fatalf("Render = %v, %v", files, err)
	}
	conf := string(files[0].Content)
	for _, want := range []string{"bind 127.0.1.9\n", "port 6379\n", "unixsocket /srv/i/run/redis.sock\n",
		"pidfile /srv/i/run/redis.pid\n", "daemonize no\n", "logfile /srv/i/log/redis.log\n", "dir /srv/i/data\n",
		"maxmemory 512mb\n", "maxmemory-policy noeviction\n", "aclfile /srv/i/data/users.acl\n", "save 3600 1 300 100 60 10000\n",
		"appendonly yes\n", "appendfsync everysec\n"} {
		if !strings.Contains(conf, want) {
			t.Errorf("redis.conf lacks %q:\n%s", want, conf)
		}
	}
	if got := e.Process().InitArgs(testSpec()); len(got) != 2 || got[1] != "/srv/i/data/users.acl" {
		t.Errorf("InitArgs = %v", got)
	}
	if got := e.Process().ServerArgs(testSpec()); got[len(got)-1] != "/srv/i/conf/redis.conf" {
		t.Errorf("ServerArgs = %v", got)
	}
	for name, mod := range map[string]func(*datastore.Spec){
		"space":   func(s *datastore.Spec) { s.DataDir = "/srv/a b" },
		"newline": func(s *datastore.Spec) { s.LogDir = "/srv/a\nrequirepass x" },
		"quote":   func(s *datastore.Spec) { s.ConfDir = "/srv/\"x" },
		"address": func(s *datastore.Spec) { s.Address = "127.0.0.1 0.0.0.0" },
		"port":    func(s *datastore.Spec) { s.Port = 0 },
	} {
		s := testSpec()
		mod(&s)
		if _, err := e.Process().Render(s); !fault.Is(err, fault.Invalid) {
			t.Errorf("%s: Render = %v, want Invalid", name, err)
		}
	}
}

func TestReadReply(t *testing.T) {
	tests := []struct {
		in      string
		want    any
		errCode string
		proto   bool
	}{
		{in: "+PONG\r\n", want: "PONG"},
		{in: ":42\r\n", want: int64(42)},
		{in: "$5\r\nhello\r\n", want: "hello"},
		{in: "$-1\r\n", want: nil},
		{in: "*2\r\n$1\r\na\r\n:1\r\n", want: []any{"a", int64(1)}},
		{in: "-NOAUTH Authentication required.\r\n", errCode: "NOAUTH"},
		{in: "-WRONGPASS invalid username-password pair\r\n", errCode: "WRONGPASS"},
		{in: "$5\r\nhel\r\n", proto: true},
		{in: "$99999999999\r\n", proto: true},
		{in: "?x\r\n", proto: true},
		{in: "\r\n", proto: true},
	}
	for _, tt := range tests {
		got, err := readReply(bufio.NewReader(strings.NewReader(tt.in)))
		switch {
		case tt.errCode != "":
			if errCode(err) != tt.errCode {
				t.Errorf("readReply(%q) = %v, %v; want error %s", tt.in, got, err, tt.errCode)
			}
		case tt.proto:
			if err == nil {
				t.Errorf("readReply(%q) = %v, want an error", tt.in, got)
			}
		default:
			if err != nil || !cmp.Equal(got, tt.want) {
				t.Errorf("readReply(%q) = %#v, %v; want %#v", tt.in, got, err, tt.want)
			}
		}
	}
}

func FuzzReadReply(f *testing.F) {
	for _, s := range []string{"+OK\r\n", "*1\r\n*1\r\n:1\r\n", "$3\r\nabc\r\n", "-ERR x\r\n", "*-1\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, err := readReply(bufio.NewReader(strings.NewReader(s)))
		var re *replyError
		if err != nil && errors.As(err, &re) && !strings.HasPrefix(s, "-") {
			t.Errorf("readReply(%q): error reply from a non-error line", s)
		}
	})
}

func TestAppendCommand(t *testing.T) {
	got := string(appendCommand(nil, "SET", "k", "a b\r\n"))
	if want := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na b\r\n\r\n"; got != want {
		t.Errorf("appendCommand = %q, want %q", got, want)
	}
}

func TestValidate(t *testing.T) {
	e := New(Config{})
	if err := e.ValidateDatabase(datastore.Database{Name: "x"}); !fault.Is(err, fault.NotImplemented) ||
		fault.Message(err) != "The 'databases' operation is not supported for the 'redis' datastore." {
		t.Errorf("ValidateDatabase = %v", err)
	}
	tests := []struct {
		u    datastore.User
		kind fault.Kind
		ok   bool
	}{
		{u: datastore.User{Name: "app", Password: "pw"}, ok: true},
		{u: datastore.User{Name: "a.b@c-d_1", Password: "p w", Host: "%"}, ok: true},
		{u: datastore.User{Name: "default", Password: "pw"}, kind: fault.Invalid},
		{u: datastore.User{Name: "OS_ADMIN", Password: "pw"}, kind: fault.Invalid},
		{u: datastore.User{Name: "a b", Password: "pw"}, kind: fault.Invalid},
		{u: datastore.User{Name: "-x", Password: "pw"}, kind: fault.Invalid},
		{u: datastore.User{Name: "app", Password: ""}, kind: fault.Invalid},
		{u: datastore.User{Name: "app", Password: "pw", Host: "10.0.0.1"}, kind: fault.Invalid},
		{u: datastore.User{Name: "app", Password: "pw", Databases: []string{"x"}}, kind: fault.NotImplemented},
	}
	for _, tt := range tests {
		err := e.ValidateUser(tt.u)
		if tt.ok != (err == nil) || (err != nil && !fault.Is(err, tt.kind)) {
			t.Errorf("ValidateUser(%+v) = %v", tt.u.Name, err)
		}
	}
}
