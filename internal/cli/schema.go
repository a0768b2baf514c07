package cli

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/databases"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/users"
)

type databaseView struct {
	Name    string `json:"name"`
	Charset string `json:"character_set,omitempty"`
	Collate string `json:"collate,omitempty"`
}

type userView struct {
	Name      string   `json:"name"`
	Host      string   `json:"host,omitempty"`
	Databases []string `json:"databases"`
}

type rootView struct {
	Name     string `json:"name,omitempty"`
	Password string `json:"password,omitempty"`
	Enabled  bool   `json:"root_enabled"`
}

// readPassword prompts on the terminal with echo off, or reads one line
// from a non-terminal stdin.
func readPassword(env *Env, prompt string) (string, error) {
	if f, ok := env.Stdin.(*os.File); ok {
		if t, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err == nil {
			fmt.Fprint(env.Stderr, prompt)
			quiet := *t
			quiet.Lflag &^= unix.ECHO
			quiet.Lflag |= unix.ICANON | unix.ECHONL
			if err := unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, &quiet); err != nil {
				return "", fmt.Errorf("cli: turn off echo: %w", err)
			}
			defer unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, t) //nolint:errcheck // best effort restore
		}
	}
	line, err := bufio.NewReader(env.Stdin).ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", fmt.Errorf("cli: read password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func init() {
	register("db create", &command{
		usage: "INSTANCE NAME [--character-set CS] [--collate C]",
		help:  "create a database on an instance",
		nargs: 2,
		flags: func(fs *flag.FlagSet, o *opts) {
			fs.StringVar(&o.charset, "character-set", "", "character set")
			fs.StringVar(&o.collate, "collate", "", "collation")
		},
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			id, err := c.instanceID(ctx)
			if err != nil {
				return fmt.Errorf("cli: create database: %w", err)
			}
			b := databases.BatchCreateOpts{{Name: c.args[1], CharSet: c.o.charset, Collate: c.o.collate}}
			if err := databases.Create(ctx, c.sc, id, b).ExtractErr(); err != nil {
				return fmt.Errorf("cli: create database: %w", err)
			}
			c.say("database %s created on instance %s", c.args[1], id)
			return nil
		},
	})
	register("db list", &command{
		usage: "INSTANCE",
		help:  "list the databases of an instance",
		nargs: 1,
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			id, err := c.instanceID(ctx)
			if err != nil {
				return fmt.Errorf("cli: list databases: %w", err)
			}
			pages, err := databases.List(c.sc, id).AllPages(ctx)
			if err != nil {
				return fmt.Errorf("cli: list databases: %w", err)
			}
			all, err := databases.ExtractDBs(pages)
			if err != nil {
				return fmt.Errorf("cli: list databases: %w", err)
			}
			views := make([]databaseView, 0, len(all))
			rows := make([][]string, 0, len(all))
			for _, d := range all {
				views = append(views, databaseView{Name: d.Name, Charset: d.CharSet, Collate: d.Collate})
				rows = append(rows, []string{d.Name, d.CharSet, d.Collate})
			}
			return c.print(views, []string{"NAME", "CHARACTER SET", "COLLATE"}, rows)
		},
	})
	register("db delete", &command{
		usage: "INSTANCE NAME",
		help:  "delete a database",
		nargs: 2,
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			id, err := c.instanceID(ctx)
			if err != nil {
				return fmt.Errorf("cli: delete database: %w", err)
			}
			if err := databases.Delete(ctx, c.sc, id, c.args[1]).ExtractErr(); err != nil {
				return fmt.Errorf("cli: delete database: %w", err)
			}
			c.say("database %s deleted from instance %s", c.args[1], id)
			return nil
		},
	})

	register("user create", &command{
		usage: "INSTANCE NAME [--password PW] [--host H] [--databases a,b]",
		help:  "create a database user (the password is prompted for, without echo, if not given)",
		nargs: 2,
		flags: func(fs *flag.FlagSet, o *opts) {
			fs.StringVar(&o.password, "password", "", "the user's password (default: prompt, or a line of stdin)")
			fs.StringVar(&o.host, "host", "", "host the user may connect from (default %)")
			fs.StringVar(&o.databases, "databases", "", "databases to grant, comma separated")
		},
		run: func(ctx context.Context, c *call) error {
			pw := c.o.password
			if pw == "" {
				var err error
				if pw, err = readPassword(c.env, "Password for "+c.args[1]+": "); err != nil {
					return err
				}
			}
			if err := c.login(ctx); err != nil {
				return err
			}
			id, err := c.instanceID(ctx)
			if err != nil {
				return fmt.Errorf("cli: create user: %w", err)
			}
			u := users.CreateOpts{Name: c.args[1], Password: pw, Host: c.o.host}
			for _, d := range splitList(c.o.databases) {
				u.Databases = append(u.Databases, databases.CreateOpts{Name: d})
			}
			if err := users.Create(ctx, c.sc, id, users.BatchCreateOpts{u}).ExtractErr(); err != nil {
				return fmt.Errorf("cli: create user: %w", err)
			}
			c.say("user %s created on instance %s", c.args[1], id)
			return nil
		},
	})
	register("user list", &command{
		usage: "INSTANCE",
		help:  "list the database users of an instance",
		nargs: 1,
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			id, err := c.instanceID(ctx)
			if err != nil {
				return fmt.Errorf("cli: list users: %w", err)
			}
			pages, err := users.List(c.sc, id).AllPages(ctx)
			if err != nil {
				return fmt.Errorf("cli: list users: %w", err)
			}
			all, err := users.ExtractUsers(pages)
			if err != nil {
				return fmt.Errorf("cli: list users: %w", err)
			}
			views := make([]userView, 0, len(all))
			rows := make([][]string, 0, len(all))
			for _, u := range all {
				v := userView{Name: u.Name, Databases: []string{}}
				for _, d := range u.Databases {
					v.Databases = append(v.Databases, d.Name)
				}
				views = append(views, v)
				rows = append(rows, []string{v.Name, strings.Join(v.Databases, ",")})
			}
			return c.print(views, []string{"NAME", "DATABASES"}, rows)
		},
	})
	register("user delete", &command{
		usage: "INSTANCE NAME",
		help:  "delete a database user",
		nargs: 2,
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			id, err := c.instanceID(ctx)
			if err != nil {
				return fmt.Errorf("cli: delete user: %w", err)
			}
			if err := users.Delete(ctx, c.sc, id, c.args[1]).ExtractErr(); err != nil {
				return fmt.Errorf("cli: delete user: %w", err)
			}
			c.say("user %s deleted from instance %s", c.args[1], id)
			return nil
		},
	})

	register("root enable", &command{
		usage: "INSTANCE",
		help:  "enable the root user and print its generated password",
		nargs: 1,
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			id, err := c.instanceID(ctx)
			if err != nil {
				return fmt.Errorf("cli: enable root: %w", err)
			}
			u, err := instances.EnableRootUser(ctx, c.sc, id).Extract()
			if err != nil {
				return fmt.Errorf("cli: enable root: %w", err)
			}
			v := rootView{Name: u.Name, Password: u.Password, Enabled: true}
			return c.print(v, []string{"NAME", "PASSWORD"}, [][]string{{v.Name, v.Password}})
		},
	})
	register("root show", &command{
		usage: "INSTANCE",
		help:  "show whether root was ever enabled on an instance",
		nargs: 1,
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			id, err := c.instanceID(ctx)
			if err != nil {
				return fmt.Errorf("cli: show root: %w", err)
			}
			on, err := instances.IsRootEnabled(ctx, c.sc, id).Extract()
			if err != nil {
				return fmt.Errorf("cli: show root: %w", err)
			}
			v := rootView{Enabled: on}
			return c.print(v, []string{"ROOT ENABLED"}, [][]string{{fmt.Sprint(on)}})
		},
	})
}
