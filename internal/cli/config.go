package cli

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/configurations"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
	"github.com/spf13/pflag"
)

type configView struct {
	ID               string         `json:"id"`
	Name             string         `json:"name"`
	Description      string         `json:"description,omitempty"`
	Datastore        string         `json:"datastore_name"`
	DatastoreVersion string         `json:"datastore_version_name"`
	Values           map[string]any `json:"values,omitempty"`
}

func viewConfig(c *configurations.Config) configView {
	return configView{ID: c.ID, Name: c.Name, Description: c.Description, Datastore: c.DatastoreName,
		DatastoreVersion: c.DatastoreVersionName, Values: c.Values}
}

// parseValues reads "k=v,k2=v2". Values that parse as integers, floats or
// booleans are sent typed, as the API wants them (reference §14.3).
func parseValues(s string) (map[string]any, error) {
	out := map[string]any{}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, v, ok := strings.Cut(item, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("%w: --values wants key=value pairs separated by ',', got %q", errUsage, item)
		}
		v = strings.TrimSpace(v)
		if i, err := strconv.ParseInt(v, 10, 64); err == nil {
			out[k] = i
		} else if f, err := strconv.ParseFloat(v, 64); err == nil {
			out[k] = f
		} else if b, err := strconv.ParseBool(v); err == nil && (v == "true" || v == "false") {
			out[k] = b
		} else {
			out[k] = v
		}
	}
	return out, nil
}

func formatValues(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%v", k, m[k])
	}
	return strings.Join(parts, ",")
}

var configColumns = cols("ID=id", "NAME=name", "DATASTORE=datastore_name", "VERSION=datastore_version_name", "VALUES=values")

func (v configView) row() []string {
	return []string{v.ID, v.Name, v.Datastore, v.DatastoreVersion, formatValues(v.Values)}
}

func init() {
	register("config create", &command{
		usage: "NAME --values k=v,k2=v2 [--datastore TYPE --datastore-version V] [--description D]",
		help:  "create a configuration group",
		nargs: 1,
		flags: func(fs *pflag.FlagSet, o *opts) {
			fs.StringVar(&o.values, "values", "", "parameter values, key=value separated by ','")
			fs.StringVar(&o.datastore, "datastore", "", "datastore type")
			fs.StringVar(&o.dsVersion, "datastore-version", "", "datastore version")
			fs.StringVar(&o.description, "description", "", "description")
		},
		run: func(ctx context.Context, c *call) error {
			vals, err := parseValues(c.o.values)
			if err != nil {
				return c.usagef("%s", strings.TrimPrefix(err.Error(), errUsage.Error()+": "))
			}
			co := configurations.CreateOpts{Name: c.args[0], Description: c.o.description, Values: vals}
			if c.o.datastore != "" || c.o.dsVersion != "" {
				co.Datastore = &configurations.DatastoreOpts{Type: c.o.datastore, Version: c.o.dsVersion}
			}
			if err := c.login(ctx); err != nil {
				return err
			}
			cfg, err := configurations.Create(ctx, c.sc, co).Extract()
			if err != nil {
				return fmt.Errorf("cli: create configuration: %w", err)
			}
			v := viewConfig(cfg)
			return c.print(v, configColumns, [][]string{v.row()})
		},
	})
	register("config list", &command{
		help: "list configuration groups",
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			pages, err := configurations.List(c.sc).AllPages(ctx)
			if err != nil {
				return fmt.Errorf("cli: list configurations: %w", err)
			}
			all, err := configurations.ExtractConfigs(pages)
			if err != nil {
				return fmt.Errorf("cli: list configurations: %w", err)
			}
			views := make([]configView, 0, len(all))
			rows := make([][]string, 0, len(all))
			for i := range all {
				v := viewConfig(&all[i])
				views = append(views, v)
				rows = append(rows, v.row())
			}
			return c.print(views, configColumns, rows)
		},
	})
	register("config show", &command{
		usage: "ID",
		help:  "show a configuration group",
		nargs: 1,
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			cfg, err := configurations.Get(ctx, c.sc, c.args[0]).Extract()
			if err != nil {
				return fmt.Errorf("cli: show configuration: %w", err)
			}
			v := viewConfig(cfg)
			return c.print(v, configColumns, [][]string{v.row()})
		},
	})
	register("config delete", &command{
		usage: "ID",
		help:  "delete a configuration group",
		nargs: 1,
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			if err := configurations.Delete(ctx, c.sc, c.args[0]).ExtractErr(); err != nil {
				return fmt.Errorf("cli: delete configuration: %w", err)
			}
			c.say("configuration %s deleted", c.args[0])
			return nil
		},
	})
	register("config attach", &command{
		usage:    "INSTANCE CONFIG",
		help:     "attach a configuration group to an instance",
		nargs:    2,
		complete: "instance",
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			id, err := c.instanceID(ctx)
			if err != nil {
				return fmt.Errorf("cli: attach configuration: %w", err)
			}
			if err := instances.AttachConfigurationGroup(ctx, c.sc, id, c.args[1]).ExtractErr(); err != nil {
				return fmt.Errorf("cli: attach configuration: %w", err)
			}
			c.say("configuration %s attached to instance %s", c.args[1], id)
			return nil
		},
	})
	register("config detach", &command{
		usage:    "INSTANCE",
		help:     "detach the configuration group of an instance",
		nargs:    1,
		complete: "instance",
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			id, err := c.instanceID(ctx)
			if err != nil {
				return fmt.Errorf("cli: detach configuration: %w", err)
			}
			if err := instances.DetachConfigurationGroup(ctx, c.sc, id).ExtractErr(); err != nil {
				return fmt.Errorf("cli: detach configuration: %w", err)
			}
			c.say("configuration detached from instance %s", id)
			return nil
		},
	})
}
