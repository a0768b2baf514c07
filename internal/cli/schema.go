package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

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

func init() {
	register("db create", &command{
		usage:    "INSTANCE NAME [--character-set CS] [--collate C]",
		help:     "create a database on an instance",
		nargs:    2,
		complete: "instance",
		flags: func(fs *pflag.FlagSet, o *opts) {
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
		usage:    "INSTANCE",
		help:     "list the databases of an instance",
		nargs:    1,
		complete: "instance",
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
			return c.print(views, cols("NAME=name", "CHARACTER SET=character_set", "COLLATE=collate"), rows)
		},
	})
	register("db delete", &command{
		usage:    "INSTANCE NAME",
		help:     "delete a database",
		nargs:    2,
		complete: "instance",
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
		usage:    "INSTANCE NAME [--password PW] [--host H] [--databases a,b]",
		help:     "create a database user (the password is prompted for, without echo, if not given)",
		nargs:    2,
		complete: "instance",
		flags: func(fs *pflag.FlagSet, o *opts) {
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
		usage:    "INSTANCE",
		help:     "list the database users of an instance",
		nargs:    1,
		complete: "instance",
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
			return c.print(views, cols("NAME=name", "DATABASES=databases"), rows)
		},
	})
	register("user delete", &command{
		usage:    "INSTANCE NAME",
		help:     "delete a database user",
		nargs:    2,
		complete: "instance",
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
		usage:    "INSTANCE",
		help:     "enable the root user and print its generated password",
		nargs:    1,
		complete: "instance",
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
			return c.print(v, cols("NAME=name", "PASSWORD=password"), [][]string{{v.Name, v.Password}})
		},
	})
	register("root show", &command{
		usage:    "INSTANCE",
		help:     "show whether root was ever enabled on an instance",
		nargs:    1,
		complete: "instance",
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
			return c.print(v, cols("ROOT ENABLED=root_enabled"), [][]string{{fmt.Sprint(on)}})
		},
	})
}
