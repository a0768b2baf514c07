package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/datastores"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/flavors"
)

type flavorView struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	RAM  int    `json:"ram"`
}

type datastoreView struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	DefaultVersion string   `json:"default_version,omitempty"`
	Versions       []string `json:"versions"`
}

func init() {
	register("flavor list", &command{
		help: "list flavors",
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			pages, err := flavors.List(c.sc).AllPages(ctx)
			if err != nil {
				return fmt.Errorf("cli: list flavors: %w", err)
			}
			all, err := flavors.ExtractFlavors(pages)
			if err != nil {
				return fmt.Errorf("cli: list flavors: %w", err)
			}
			views := make([]flavorView, 0, len(all))
			rows := make([][]string, 0, len(all))
			for _, f := range all {
				id := f.StrID
				if id == "" {
					id = strconv.Itoa(f.ID)
				}
				views = append(views, flavorView{ID: id, Name: f.Name, RAM: f.RAM})
				rows = append(rows, []string{id, f.Name, strconv.Itoa(f.RAM)})
			}
			return c.print(views, cols("ID=id", "NAME=name", "RAM (MB)=ram"), rows)
		},
	})
	register("datastore list", &command{
		help: "list datastores and their versions",
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			pages, err := datastores.List(c.sc).AllPages(ctx)
			if err != nil {
				return fmt.Errorf("cli: list datastores: %w", err)
			}
			all, err := datastores.ExtractDatastores(pages)
			if err != nil {
				return fmt.Errorf("cli: list datastores: %w", err)
			}
			views := make([]datastoreView, 0, len(all))
			rows := make([][]string, 0, len(all))
			for _, d := range all {
				v := datastoreView{ID: d.ID, Name: d.Name, Versions: []string{}}
				for _, ver := range d.Versions {
					v.Versions = append(v.Versions, ver.Name)
					if ver.ID == d.DefaultVersion {
						v.DefaultVersion = ver.Name
					}
				}
				views = append(views, v)
				rows = append(rows, []string{v.Name, v.DefaultVersion, strings.Join(v.Versions, ","), v.ID})
			}
			return c.print(views, cols("NAME=name", "DEFAULT=default_version", "VERSIONS=versions", "ID=id"), rows)
		},
	})
}
