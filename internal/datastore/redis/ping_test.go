package redis

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"

	"github.com/hoard-db/hoard/internal/datastore"
)

// fakeRedis serves RESP on a loopback port: answer gives the reply line of
// each command (its name upper-cased, then its arguments).
func fakeRedis(t *testing.T, answer func(cmd []string) string) datastore.Conn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				r := bufio.NewReader(conn)
				for {
					v, err := readReply(r)
					if err != nil {
						return
					}
					args, _ := v.([]any)
					var cmd []string
					for _, a := range args {
						s, _ := a.(string)
						cmd = append(cmd, s)
					}
					if len(cmd) > 0 {
						cmd[0] = strings.ToUpper(cmd[0])
					}
					if _, err := conn.Write([]byte(answer(cmd) + "\r\n")); err != nil {
						return
					}
				}
			}()
		}
	}()
	addr := ln.Addr().(*net.TCPAddr)
	return datastore.Conn{Address: "127.0.0.1", Port: addr.Port}
}

// TestPingLoading: a server still loading its dataset is not ready to an
// authenticated ping, although it answers an anonymous one with NOAUTH.
func TestPingLoading(t *testing.T) {
	tests := []struct {
		name      string
		user, pw  string
		auth      string // reply to AUTH
		ping      string // reply to PING (authenticated or not)
		wantReady bool
	}{
		{"loading, anonymous", "", "", "", "-NOAUTH Authentication required.", true},
		{"loading, admin", "os_admin", "pw", "+OK", "-LOADING Redis is loading the dataset in memory", false},
		{"ready, admin", "os_admin", "pw", "+OK", "+PONG", true},
		{"admin not made yet", "os_admin", "pw", "-WRONGPASS invalid username-password pair or user is disabled.", "-NOAUTH Authentication required.", true},
		{"busy", "os_admin", "pw", "+OK", "-BUSY Redis is busy running a script.", false},
	}
	e := New(Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			authed := false
			c := fakeRedis(t, func(cmd []string) string {
				switch cmd[0] {
				case "AUTH":
					if strings.HasPrefix(tt.auth, "+") {
						authed = true
					}
					return tt.auth
				case "PING":
					if !authed && tt.user != "" && strings.HasPrefix(tt.auth, "+") {
						return "-NOAUTH Authentication required."
					}
					return tt.ping
				}
				return "-ERR unknown command"
			})
			c.User, c.Password = tt.user, datastore.Secret(tt.pw)
			err := e.Ping(context.Background(), c)
			if (err == nil) != tt.wantReady {
				t.Errorf("Ping = %v, want ready %v", err, tt.wantReady)
			}
		})
	}
}
