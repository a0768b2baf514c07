package dashboard

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// This file is the dashboard's only engine knowledge: which client each
// datastore type is reached with, its standard port and URI scheme (as
// internal/cli/connect.go, on the client side of the API).

// engineOf maps a datastore type to its engine's client family.
func engineOf(dsType string) string {
	switch strings.ToLower(dsType) {
	case "mysql", "mariadb", "percona", "percona-xtradb-cluster":
		return "mariadb"
	case "postgresql", "postgres":
		return "postgresql"
	case "redis":
		return "redis"
	}
	return ""
}

// defaultPort is the engine's standard port, when the API gave none.
func defaultPort(engine string) int {
	switch engine {
	case "mariadb":
		return 3306
	case "postgresql":
		return 5432
	case "redis":
		return 6379
	}
	return 0
}

// connection is one way to reach an instance, shown with a copy button.
type connection struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// connections are the engine client command and URI for user on db at the
// instance's address. Passwords are never part of them: the clients ask,
// or read MYSQL_PWD / PGPASSWORD / REDISCLI_AUTH.
func connections(in *instance, user, db string) []connection {
	host := in.Address()
	if host == "" {
		return nil
	}
	eng := in.Engine()
	port := in.Port
	if port == 0 {
		port = defaultPort(eng)
	}
	hp := net.JoinHostPort(host, strconv.Itoa(port))
	u := url.User(user)
	switch eng {
	case "mariadb":
		if user == "" {
			user = "root"
			u = url.User(user)
		}
		cmd := fmt.Sprintf("mariadb -h %s -P %d -u %s -p", host, port, shellQuote(user))
		if db != "" {
			cmd += " " + shellQuote(db)
		}
		return []connection{
			{"mariadb client", cmd},
			{"URI", (&url.URL{Scheme: "mysql", User: u, Host: hp, Path: "/" + db}).String()},
		}
	case "postgresql":
		if user == "" {
			user = "postgres"
			u = url.User(user)
		}
		if db == "" {
			db = "postgres"
		}
		return []connection{
			{"psql", fmt.Sprintf("psql -h %s -p %d -U %s -d %s", host, port, shellQuote(user), shellQuote(db))},
			{"URI", (&url.URL{Scheme: "postgresql", User: u, Host: hp, Path: "/" + db}).String()},
		}
	case "redis":
		if user == "" {
			user = "default"
			u = url.User(user)
		}
		return []connection{
			{"redis-cli", fmt.Sprintf("redis-cli -h %s -p %d --user %s --askpass", host, port, shellQuote(user))},
			{"URI", (&url.URL{Scheme: "redis", User: u, Host: hp, Path: "/0"}).String()},
		}
	}
	return nil
}

// shellQuote quotes s for a POSIX shell unless it is plainly safe.
func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-.@%+=:,/", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
