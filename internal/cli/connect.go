package cli

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// engineClient is how to reach one kind of engine with its own client.
type engineClient struct {
	scheme   string   // of the connection URI
	clients  []string // executables to look for, in order
	pwEnv    string   // the variable the client reads a password from
	port     int      // the engine's default port
	database string   // the database when --database is not given
	// argv is the client's command line, without a password.
	argv func(host string, port int, user, db string) []string
	// tls says how the client verifies the instance's certificate against
	// the CA in caFile: extra arguments and environment, the port to use
	// and the query of the connection URI.
	tls func(caFile string, port int) clientTLS
}

// clientTLS is what a client needs to speak TLS to an instance and verify
// its certificate.
type clientTLS struct {
	args, env []string
	port      int
	scheme    string // of the URI, when it differs (rediss)
	query     url.Values
}

// engineClients maps a datastore type to its engine's client. When the
// instance serves TLS (its CA route answers), the client verifies the
// instance's certificate against that CA; --no-tls leaves TLS out.
var engineClients = map[string]*engineClient{
	"mysql":      mariadbClient,
	"mariadb":    mariadbClient,
	"postgresql": postgresClient,
	"redis":      redisClient,
}

var mariadbClient = &engineClient{
	scheme: "mysql", clients: []string{"mariadb", "mysql"}, pwEnv: "MYSQL_PWD", port: 3306,
	argv: func(host string, port int, user, db string) []string {
		a := []string{"--host=" + host, "--port=" + strconv.Itoa(port), "--protocol=TCP", "--user=" + user}
		if db != "" {
			a = append(a, "--database="+db)
		}
		return a
	},
	tls: func(caFile string, port int) clientTLS {
		return clientTLS{
			args:  []string{"--ssl", "--ssl-ca=" + caFile, "--ssl-verify-server-cert"},
			port:  port,
			query: url.Values{"ssl-mode": {"VERIFY_IDENTITY"}, "ssl-ca": {caFile}},
		}
	},
}

var postgresClient = &engineClient{
	scheme: "postgresql", clients: []string{"psql"}, pwEnv: "PGPASSWORD", port: 5432, database: "postgres",
	argv: func(host string, port int, user, db string) []string {
		return []string{"--host=" + host, "--port=" + strconv.Itoa(port), "--username=" + user, "--dbname=" + db}
	},
	tls: func(caFile string, port int) clientTLS {
		return clientTLS{
			env:   []string{"PGSSLMODE=verify-full", "PGSSLROOTCERT=" + caFile},
			port:  port,
			query: url.Values{"sslmode": {"verify-full"}, "sslrootcert": {caFile}},
		}
	},
}

var redisClient = &engineClient{
	scheme: "redis", clients: []string{"redis-cli"}, pwEnv: "REDISCLI_AUTH", port: 6379,
	argv: func(host string, port int, user, db string) []string {
		a := []string{"-h", host, "-p", strconv.Itoa(port), "--user", user}
		if db != "" {
			a = append(a, "-n", db)
		}
		return a
	},
	// Redis serves TLS on its own port, the plain port + 1.
	tls: func(caFile string, port int) clientTLS {
		return clientTLS{
			args:   []string{"--tls", "--cacert", caFile},
			port:   port + 1,
			scheme: "rediss",
			query:  url.Values{"ssl_ca_certs": {caFile}},
		}
	},
}

// connectURI is the URI of a connection, never with a password; with tls
// (nil for none) it asks for TLS with the instance's CA.
func connectURI(e *engineClient, host string, port int, user, db string, tls *clientTLS) string {
	u := url.URL{Scheme: e.scheme, User: url.User(user), Host: net.JoinHostPort(host, strconv.Itoa(port))}
	if db != "" {
		u.Path = "/" + db
	}
	if tls != nil {
		if tls.scheme != "" {
			u.Scheme = tls.scheme
		}
		u.Host = net.JoinHostPort(host, strconv.Itoa(tls.port))
		u.RawQuery = tls.query.Encode()
	}
	return u.String()
}

func init() {
	register("instance connect", &command{
		usage:    "ID|NAME [--user U] [--database D] [--print]",
		help:     "start the engine's own client (mariadb, psql, redis-cli) on an instance, or --print its URI",
		nargs:    1,
		complete: "instance",
		flags: func(fs *pflag.FlagSet, o *opts) {
			fs.StringVar(&o.user, "user", "root", "database user (root is the user root enable creates)")
			fs.StringVar(&o.database, "database", "", "database (PostgreSQL: default postgres; Redis: its number)")
			fs.BoolVar(&o.print, "print", false, "print the connection URI (without a password) instead of starting the client")
			fs.BoolVar(&o.noTLS, "no-tls", false, "connect without TLS even when the instance serves it")
		},
		run: func(ctx context.Context, c *call) error {
			if c.o.user == "" {
				return c.usagef("--user must not be empty")
			}
			if err := c.login(ctx); err != nil {
				return err
			}
			in, err := c.findInstance(ctx, c.args[0])
			if err != nil {
				return fmt.Errorf("cli: connect: %w", err)
			}
			e := engineClients[in.Datastore.Type]
			if e == nil {
				return fmt.Errorf("cli: connect: no client known for datastore %q", in.Datastore.Type)
			}
			v := viewInstance(in.Instance, &in.extra)
			host := v.Hostname
			if host == "" && len(v.Addresses) > 0 {
				host = v.Addresses[0]
			}
			if host == "" {
				return fmt.Errorf("cli: connect: instance %s has no address yet (status %s)", label(in.Name, in.ID), in.Status)
			}
			port := v.Port
			if port == 0 {
				port = e.port
			}
			db := c.o.database
			if db == "" {
				db = e.database
			}
			var tls *clientTLS
			if !c.o.noTLS {
				caFile, err := c.instanceCAFile(ctx, in.ID)
				if err != nil {
					return fmt.Errorf("cli: connect: %w", err)
				}
				if caFile != "" {
					t := e.tls(caFile, port)
					tls = &t
				}
			}
			uri := connectURI(e, host, port, c.o.user, db, tls)
			if c.o.print {
				c.say("%s", uri)
				return nil
			}
			return c.execClient(e, in.Name, host, port, db, uri, tls)
		},
	})
}

// execClient replaces hoard with the engine's client. The password goes
// through the client's environment variable: taken as it is from hoard's
// environment, else asked for on the terminal; never on the command line,
// where any user could read it in ps.
func (c *call) execClient(e *engineClient, name, host string, port int, db, uri string, tls *clientTLS) error {
	var path string
	for _, bin := range e.clients {
		if p, err := c.env.LookPath(bin); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		return fmt.Errorf("cli: connect: %s is not installed (or not in PATH); the instance is at %s", strings.Join(e.clients, " or "), uri)
	}
	envv := c.env.Environ()
	has := false
	for _, kv := range envv {
		if strings.HasPrefix(kv, e.pwEnv+"=") {
			has = true
		}
	}
	if !has {
		pw, ok, err := c.env.ReadSecret(fmt.Sprintf("Password for %s on %s (empty for none): ", c.o.user, name))
		if err != nil {
			return err
		}
		if ok && pw != "" {
			envv = append(envv, e.pwEnv+"="+pw)
		}
	}
	if tls != nil {
		port = tls.port
		envv = append(envv, tls.env...)
	}
	argv := append([]string{path}, e.argv(host, port, c.o.user, db)...)
	if tls != nil {
		argv = append(argv, tls.args...)
	}
	if err := c.env.Exec(path, argv, envv); err != nil {
		return fmt.Errorf("cli: connect: start %s: %w", path, err)
	}
	return nil
}
