package cli

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/spf13/pflag"
)

// haView is an HA instance group as GET /ha/{id} shows it (Rackspace's
// /ha, reference §17.1; gophercloud has no package for it).
type haView struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	State     string `json:"state"`
	Datastore struct {
		Type    string `json:"type"`
		Version string `json:"version"`
	} `json:"datastore"`
	Volume *struct {
		Size int `json:"size"`
	} `json:"volume,omitempty"`
	Flavor *struct {
		ID string `json:"id"`
	} `json:"flavor,omitempty"`
	Networks []struct {
		Access  string `json:"access"`
		Network string `json:"network"`
		Port    int    `json:"port"`
		Address string `json:"address"`
	} `json:"networks,omitempty"`
	ACLs []struct {
		Address string `json:"address"`
	} `json:"acls,omitempty"`
	ReplicaSource []haMember `json:"replica_source,omitempty"`
	Replicas      []haMember `json:"replicas,omitempty"`
	Events        []struct {
		Time    string `json:"time"`
		Message string `json:"message"`
	} `json:"events,omitempty"`
}

type haMember struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"`
}

var haColumns = cols("ID=id", "NAME=name", "STATE=state", "DATASTORE=datastore", "VERSION=version")

func (g haView) row() []string {
	return []string{g.ID, g.Name, g.State, g.Datastore.Type, g.Datastore.Version}
}

func members(ms []haMember) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = fmt.Sprintf("%s (%s, %s)", m.Name, m.ID, m.Status)
	}
	return strings.Join(parts, "; ")
}

// fields are the FIELD/VALUE rows of a group.
func (g haView) fields() [][2]string {
	f := [][2]string{{"id", g.ID}, {"name", g.Name}, {"state", g.State},
		{"datastore", g.Datastore.Type}, {"datastore_version", g.Datastore.Version}}
	if g.Flavor != nil {
		f = append(f, [2]string{"flavor", g.Flavor.ID})
	}
	if g.Volume != nil {
		f = append(f, [2]string{"volume", strconv.Itoa(g.Volume.Size)})
	}
	for _, n := range g.Networks {
		f = append(f, [2]string{n.Access + "_address", fmt.Sprintf("%s:%d (%s)", n.Address, n.Port, n.Network)})
	}
	acls := make([]string, len(g.ACLs))
	for i, a := range g.ACLs {
		acls[i] = a.Address
	}
	f = append(f, [2]string{"acls", strings.Join(acls, ", ")},
		[2]string{"source", members(g.ReplicaSource)}, [2]string{"replicas", members(g.Replicas)})
	for _, e := range g.Events {
		f = append(f, [2]string{"event", e.Time + " " + e.Message})
	}
	return f
}

func init() {
	register("ha create", &command{
		usage: "NAME --flavor F --size GB [--datastore TYPE] [--replicas N] [--acl CIDR,...] [--wait]",
		help:  "create an HA group: a source and N (1-2) replicas behind one write and one read address",
		nargs: 1,
		flags: func(fs *pflag.FlagSet, o *opts) {
			fs.StringVar(&o.flavor, "flavor", "", "flavor id of every member")
			fs.IntVar(&o.size, "size", 1, "volume size (GB) of every member")
			fs.StringVar(&o.datastore, "datastore", "", "datastore type (default: the service's)")
			fs.StringVar(&o.dsVersion, "datastore-version", "", "datastore version")
			fs.IntVar(&o.replicas, "replicas", 2, "number of replicas (1-2)")
			fs.StringVar(&o.values, "acl", "", "comma-separated CIDRs allowed to connect (default: any)")
			fs.StringVar(&o.configuration, "configuration", "", "configuration group id")
			waitFlag(fs, o)
		},
		run: func(ctx context.Context, c *call) error {
			if c.o.flavor == "" {
				return c.usagef("--flavor is required")
			}
			if err := c.login(ctx); err != nil {
				return err
			}
			name := c.args[0]
			member := func(n string) map[string]any {
				return map[string]any{"name": n, "flavorRef": c.o.flavor, "volume": map[string]int{"size": c.o.size}}
			}
			var replicas []map[string]any
			for i := range c.o.replicas {
				replicas = append(replicas, member(fmt.Sprintf("%s-replica-%d", name, i+1)))
			}
			body := map[string]any{"name": name, "replica_source": []map[string]any{member(name + "-source")}, "replicas": replicas}
			ds := map[string]string{}
			if c.o.datastore != "" {
				ds["type"] = c.o.datastore
			}
			if c.o.dsVersion != "" {
				ds["version"] = c.o.dsVersion
			}
			if len(ds) > 0 {
				body["datastore"] = ds
			}
			if c.o.values != "" {
				var acls []map[string]string
				for _, a := range strings.Split(c.o.values, ",") {
					acls = append(acls, map[string]string{"address": strings.TrimSpace(a)})
				}
				body["acls"] = acls
			}
			if c.o.configuration != "" {
				body["configuration"] = c.o.configuration
			}
			var resp struct {
				HA haView `json:"ha_instance"`
			}
			if _, err := c.sc.Post(ctx, c.sc.ServiceURL("ha"), map[string]any{"ha": body}, &resp,
				&gophercloud.RequestOpts{OkCodes: []int{http.StatusAccepted}}); err != nil {
				return fmt.Errorf("cli: create HA group: %w", err)
			}
			g := resp.HA
			if c.o.wait {
				var err error
				if g, err = c.waitHA(ctx, g); err != nil {
					return err
				}
			}
			return c.printFields(g, g.fields())
		},
	})
	register("ha list", &command{
		help: "list HA groups",
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			var resp struct {
				HA []haView `json:"ha_instances"`
			}
			if _, err := c.sc.Get(ctx, c.sc.ServiceURL("ha"), &resp, nil); err != nil {
				return fmt.Errorf("cli: list HA groups: %w", err)
			}
			rows := make([][]string, 0, len(resp.HA))
			for _, g := range resp.HA {
				rows = append(rows, g.row())
			}
			if resp.HA == nil {
				resp.HA = []haView{}
			}
			return c.print(resp.HA, haColumns, rows)
		},
	})
	register("ha show", &command{
		usage: "ID|NAME",
		help:  "show an HA group: its state, write and read addresses, members and failover history",
		nargs: 1,
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			g, err := c.findHA(ctx, c.args[0])
			if err != nil {
				return fmt.Errorf("cli: show HA group: %w", err)
			}
			return c.printFields(g, g.fields())
		},
	})
	register("ha delete", &command{
		usage: "ID|NAME",
		help:  "delete an HA group and every member",
		nargs: 1,
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			g, err := c.findHA(ctx, c.args[0])
			if err != nil {
				return fmt.Errorf("cli: delete HA group: %w", err)
			}
			if _, err := c.sc.Delete(ctx, c.sc.ServiceURL("ha", g.ID), &gophercloud.RequestOpts{OkCodes: []int{http.StatusAccepted}}); err != nil {
				return fmt.Errorf("cli: delete HA group: %w", err)
			}
			c.say("deletion of HA group %s (%s) accepted", g.Name, g.ID)
			return nil
		},
	})
	action := func(name, usage, help string, nargs int, body func(c *call) (map[string]any, error)) {
		register("ha "+name, &command{
			usage: "ID|NAME " + usage,
			help:  help,
			nargs: 1 + nargs,
			flags: func(fs *pflag.FlagSet, o *opts) {
				if name == "add-replica" {
					fs.StringVar(&o.flavor, "flavor", "", "flavor id (default: the group's)")
					fs.IntVar(&o.size, "size", 0, "volume size in GB (default: the group's)")
				}
			},
			run: func(ctx context.Context, c *call) error {
				b, err := body(c)
				if err != nil {
					return err
				}
				if err := c.login(ctx); err != nil {
					return err
				}
				g, err := c.findHA(ctx, c.args[0])
				if err != nil {
					return fmt.Errorf("cli: %s: %w", name, err)
				}
				if name == "add-replica" {
					d := b["add_replica"].(map[string]any)["replica_details"].(map[string]any)
					if d["flavorRef"] == "" && g.Flavor != nil {
						d["flavorRef"] = g.Flavor.ID
					}
					if d["volume"].(map[string]int)["size"] == 0 && g.Volume != nil {
						d["volume"] = map[string]int{"size": g.Volume.Size}
					}
				}
				if _, err := c.sc.Post(ctx, c.sc.ServiceURL("ha", g.ID, "action"), b, nil,
					&gophercloud.RequestOpts{OkCodes: []int{http.StatusAccepted}}); err != nil {
					return fmt.Errorf("cli: %s: %w", name, err)
				}
				c.say("%s of HA group %s (%s) accepted", name, g.Name, g.ID)
				return nil
			},
		})
	}
	action("restart", "", "restart every member's database service", 0, func(*call) (map[string]any, error) {
		return map[string]any{"restart": map[string]any{}}, nil
	})
	action("resize-flavor", "FLAVOR", "give every member another flavor", 1, func(c *call) (map[string]any, error) {
		return map[string]any{"resize_flavor": c.args[1]}, nil
	})
	action("resize-volume", "GB", "grow every member's volume", 1, func(c *call) (map[string]any, error) {
		n, err := strconv.Atoi(c.args[1])
		if err != nil || n < 1 {
			return nil, c.usagef("GB must be a positive integer")
		}
		return map[string]any{"resize_volumes": map[string]int{"size": n}}, nil
	})
	action("add-replica", "NAME [--flavor F] [--size GB]", "add a replica to the group", 1, func(c *call) (map[string]any, error) {
		return map[string]any{"add_replica": map[string]any{"replica_details": map[string]any{
			"name": c.args[1], "flavorRef": c.o.flavor, "volume": map[string]int{"size": c.o.size}}}}, nil
	})
	action("remove-replica", "INSTANCE_ID", "remove a replica from the group (and delete it)", 1, func(c *call) (map[string]any, error) {
		return map[string]any{"remove_replica": c.args[1]}, nil
	})
	register("ha acl-add", &command{
		usage: "ID|NAME CIDR",
		help:  "allow a network to connect to the group's addresses",
		nargs: 2,
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			g, err := c.findHA(ctx, c.args[0])
			if err != nil {
				return fmt.Errorf("cli: add ACL: %w", err)
			}
			if _, err := c.sc.Post(ctx, c.sc.ServiceURL("ha", g.ID, "acls"), map[string]string{"address": c.args[1]}, nil,
				&gophercloud.RequestOpts{OkCodes: []int{http.StatusOK}}); err != nil {
				return fmt.Errorf("cli: add ACL: %w", err)
			}
			c.say("%s may connect to HA group %s", c.args[1], g.Name)
			return nil
		},
	})
	register("ha acl-delete", &command{
		usage: "ID|NAME CIDR",
		help:  "remove a network from the group's ACLs",
		nargs: 2,
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			g, err := c.findHA(ctx, c.args[0])
			if err != nil {
				return fmt.Errorf("cli: delete ACL: %w", err)
			}
			// Rackspace's clients encode the CIDR's '/' three times;
			// hoard accepts it encoded any number of times.
			addr := strings.ReplaceAll(c.args[1], "/", "%2F")
			if _, err := c.sc.Delete(ctx, c.sc.ServiceURL("ha", g.ID, "acls", addr), &gophercloud.RequestOpts{OkCodes: []int{http.StatusAccepted}}); err != nil {
				return fmt.Errorf("cli: delete ACL: %w", err)
			}
			c.say("%s removed from the ACLs of HA group %s", c.args[1], g.Name)
			return nil
		},
	})
}

// getHA reads group id.
func (c *call) getHA(ctx context.Context, id string) (haView, error) {
	var resp struct {
		HA haView `json:"ha_instance"`
	}
	_, err := c.sc.Get(ctx, c.sc.ServiceURL("ha", id), &resp, nil)
	return resp.HA, err
}

// findHA resolves a group by id or name (a name two groups share is an
// error naming both).
func (c *call) findHA(ctx context.Context, ref string) (haView, error) {
	if g, err := c.getHA(ctx, ref); err == nil {
		return g, nil
	} else if !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		return haView{}, err
	}
	var resp struct {
		HA []haView `json:"ha_instances"`
	}
	if _, err := c.sc.Get(ctx, c.sc.ServiceURL("ha"), &resp, nil); err != nil {
		return haView{}, err
	}
	var ids []string
	for _, g := range resp.HA {
		if g.Name == ref {
			ids = append(ids, g.ID)
		}
	}
	switch len(ids) {
	case 0:
		return haView{}, fmt.Errorf("no HA group with id or name %q", ref)
	case 1:
		return c.getHA(ctx, ids[0])
	}
	return haView{}, fmt.Errorf("%d HA groups are named %q (%s): use an id", len(ids), ref, strings.Join(ids, ", "))
}

// waitHA polls a group until it is ACTIVE.
func (c *call) waitHA(ctx context.Context, g haView) (haView, error) {
	w := c.newWaiter(ctx, "HA group "+label(g.Name, g.ID), nameOr(g.Name, g.ID))
	defer w.cancel()
	w.see(g.State)
	for {
		cur, err := c.getHA(w.ctx, g.ID)
		if err != nil {
			return g, w.fail(err)
		}
		w.see(cur.State)
		switch cur.State {
		case "ACTIVE":
			return cur, nil
		case "ERROR":
			return cur, &WaitError{ID: cur.ID, Name: cur.Name, Status: cur.State}
		}
		if err := w.pause(); err != nil {
			return cur, err
		}
	}
}
