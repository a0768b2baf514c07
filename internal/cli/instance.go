package cli

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/databases"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/users"

	"github.com/hoard-db/hoard/internal/safetext"
)

// timeLayout is how times print: the API's own layout, UTC.
const timeLayout = "2006-01-02T15:04:05"

// instanceView is the -o json form of an instance.
type instanceView struct {
	ID               string   `json:"id"`
	Name             string   `json:"name"`
	Status           string   `json:"status"`
	Flavor           string   `json:"flavor"`
	VolumeSize       int      `json:"volume_size"`
	VolumeUsed       float64  `json:"volume_used,omitempty"`
	Datastore        string   `json:"datastore"`
	DatastoreVersion string   `json:"datastore_version"`
	Addresses        []string `json:"addresses,omitempty"`
	Hostname         string   `json:"hostname,omitempty"`
	Created          string   `json:"created,omitempty"`
	Updated          string   `json:"updated,omitempty"`
	Fault            string   `json:"fault,omitempty"`
}

func viewInstance(in *instances.Instance) instanceView {
	v := instanceView{
		ID: in.ID, Name: in.Name, Status: in.Status, Flavor: in.Flavor.ID,
		VolumeSize: in.Volume.Size, VolumeUsed: in.Volume.Used,
		Datastore: in.Datastore.Type, DatastoreVersion: in.Datastore.Version,
		Hostname: in.Hostname,
	}
	for _, a := range in.Addresses {
		v.Addresses = append(v.Addresses, a.Address)
	}
	if len(v.Addresses) == 0 {
		v.Addresses = in.IP
	}
	if !in.Created.IsZero() {
		v.Created = in.Created.UTC().Format(timeLayout)
	}
	if !in.Updated.IsZero() {
		v.Updated = in.Updated.UTC().Format(timeLayout)
	}
	if in.Fault != nil {
		v.Fault = in.Fault.Message
	}
	return v
}

var instanceListHeader = []string{"ID", "NAME", "STATUS", "FLAVOR", "SIZE", "DATASTORE", "VERSION", "ADDRESS"}

func (v instanceView) row() []string {
	return []string{v.ID, v.Name, v.Status, v.Flavor, strconv.Itoa(v.VolumeSize), v.Datastore, v.DatastoreVersion,
		v.address()}
}

// address is how to reach the instance: its IP addresses, else its host
// name (instances on Kubernetes have a DNS name and no IP in the API).
func (v instanceView) address() string {
	if len(v.Addresses) > 0 {
		return strings.Join(v.Addresses, ",")
	}
	return v.Hostname
}

// printInstance prints one instance as FIELD/VALUE rows.
func (c *call) printInstance(in *instances.Instance) error {
	v := viewInstance(in)
	rows := [][]string{
		{"id", v.ID}, {"name", v.Name}, {"status", v.Status}, {"flavor", v.Flavor},
		{"volume_size", strconv.Itoa(v.VolumeSize)},
		{"datastore", v.Datastore}, {"datastore_version", v.DatastoreVersion},
		{"addresses", strings.Join(v.Addresses, ",")},
		{"created", v.Created}, {"updated", v.Updated},
	}
	if v.Hostname != "" {
		rows = append(rows, []string{"hostname", v.Hostname})
	}
	if v.VolumeUsed > 0 {
		rows = append(rows, []string{"volume_used", strconv.FormatFloat(v.VolumeUsed, 'f', -1, 64)})
	}
	if v.Fault != "" {
		rows = append(rows, []string{"fault", v.Fault})
	}
	return c.print(v, []string{"FIELD", "VALUE"}, rows)
}

// findInstance resolves an id or a unique name to an instance, as OSC does:
// GET by id first, then a name match over the list.
func (c *call) findInstance(ctx context.Context, ref string) (*instances.Instance, error) {
	in, err := instances.Get(ctx, c.sc, ref).Extract()
	if err == nil || !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		return in, err
	}
	pages, lerr := instances.List(c.sc).AllPages(ctx)
	if lerr != nil {
		return nil, err
	}
	all, lerr := instances.ExtractInstances(pages)
	if lerr != nil {
		return nil, err
	}
	var found []instances.Instance
	for _, x := range all {
		if x.Name == ref {
			found = append(found, x)
		}
	}
	switch len(found) {
	case 0:
		return nil, err
	case 1:
		return instances.Get(ctx, c.sc, found[0].ID).Extract()
	default:
		return nil, fmt.Errorf("cli: %d instances are named %q; use the id", len(found), ref)
	}
}

// instanceID resolves args[0] to an instance id.
func (c *call) instanceID(ctx context.Context) (string, error) {
	in, err := c.findInstance(ctx, c.args[0])
	if err != nil {
		return "", err
	}
	return in.ID, nil
}

// parseUsers reads --users: items separated by ';', each
// name[@host]:password[:db1,db2]. A user without its own database list is
// granted dbs.
func parseUsers(s string, dbs []string) (users.BatchCreateOpts, error) {
	var out users.BatchCreateOpts
	for item := range strings.SplitSeq(s, ";") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		parts := strings.SplitN(item, ":", 3)
		if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
			return nil, fmt.Errorf("%w: --users wants name:password[:db1,db2], separated by ';'", errUsage)
		}
		u := users.CreateOpts{Name: parts[0], Password: parts[1]}
		if at := strings.LastIndexByte(u.Name, '@'); at > 0 {
			u.Name, u.Host = u.Name[:at], u.Name[at+1:]
		}
		grant := dbs
		if len(parts) == 3 {
			grant = splitList(parts[2])
		}
		for _, d := range grant {
			u.Databases = append(u.Databases, databases.CreateOpts{Name: d})
		}
		out = append(out, u)
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func init() {
	register("instance create", &command{
		usage: "NAME --flavor ID --size GB [--datastore TYPE] [--datastore-version V] [--databases a,b] [--users 'u:pw[:db,..];...'] [--wait]",
		help:  "create an instance (users are granted every --databases unless they list their own)",
		nargs: 1,
		flags: func(fs *flag.FlagSet, o *opts) {
			fs.StringVar(&o.flavor, "flavor", "", "flavor id (required)")
			fs.IntVar(&o.size, "size", 0, "volume size in GB (required)")
			fs.StringVar(&o.volumeType, "volume-type", "", "volume type")
			fs.StringVar(&o.datastore, "datastore", "", "datastore type (default: the service's default)")
			fs.StringVar(&o.dsVersion, "datastore-version", "", "datastore version")
			fs.StringVar(&o.databases, "databases", "", "databases to create, comma separated")
			fs.StringVar(&o.users, "users", "", "users to create: name:password[:db1,db2], separated by ';'")
			fs.StringVar(&o.configuration, "configuration", "", "configuration group id")
			waitFlag(fs, o)
		},
		run: func(ctx context.Context, c *call) error {
			if c.o.flavor == "" || c.o.size <= 0 {
				fmt.Fprintln(c.env.Stderr, "hoard instance create: --flavor and --size are required")
				return errUsage
			}
			dbs := splitList(c.o.databases)
			us, err := parseUsers(c.o.users, dbs)
			if err != nil {
				fmt.Fprintln(c.env.Stderr, "hoard instance create:", strings.TrimPrefix(err.Error(), errUsage.Error()+": "))
				return errUsage
			}
			co := instances.CreateOpts{Name: c.args[0], FlavorRef: c.o.flavor, Size: c.o.size, VolumeType: c.o.volumeType,
				Configuration: c.o.configuration}
			if len(dbs) > 0 {
				var b databases.BatchCreateOpts
				for _, d := range dbs {
					b = append(b, databases.CreateOpts{Name: d})
				}
				co.Databases = b
			}
			if len(us) > 0 {
				co.Users = us
			}
			if c.o.datastore != "" || c.o.dsVersion != "" {
				co.Datastore = &instances.DatastoreOpts{Type: c.o.datastore, Version: c.o.dsVersion}
			}
			if err := c.login(ctx); err != nil {
				return err
			}
			in, err := instances.Create(ctx, c.sc, co).Extract()
			if err != nil {
				return fmt.Errorf("cli: create instance: %w", err)
			}
			if c.o.wait {
				if in, err = c.waitStatus(ctx, in.ID, in.Status); err != nil {
					return err
				}
			}
			return c.printInstance(in)
		},
	})
	register("instance list", &command{
		usage: "",
		help:  "list instances (every page)",
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			pages, err := instances.List(c.sc).AllPages(ctx)
			if err != nil {
				return fmt.Errorf("cli: list instances: %w", err)
			}
			all, err := instances.ExtractInstances(pages)
			if err != nil {
				return fmt.Errorf("cli: list instances: %w", err)
			}
			views := make([]instanceView, 0, len(all))
			rows := make([][]string, 0, len(all))
			for i := range all {
				v := viewInstance(&all[i])
				views = append(views, v)
				rows = append(rows, v.row())
			}
			return c.print(views, instanceListHeader, rows)
		},
	})
	register("instance show", &command{
		usage: "ID|NAME",
		help:  "show an instance",
		nargs: 1,
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			in, err := c.findInstance(ctx, c.args[0])
			if err != nil {
				return fmt.Errorf("cli: show instance: %w", err)
			}
			return c.printInstance(in)
		},
	})
	register("instance restart", &command{
		usage: "ID|NAME [--wait]",
		help:  "restart the database service of an instance",
		nargs: 1,
		flags: waitFlag,
		run: func(ctx context.Context, c *call) error {
			return c.instanceAction(ctx, "restart", func(id string) error {
				return instances.Restart(ctx, c.sc, id).ExtractErr()
			})
		},
	})
	register("instance resize", &command{
		usage: "ID|NAME (--flavor ID | --size GB) [--wait]",
		help:  "resize an instance's flavor or its volume",
		nargs: 1,
		flags: func(fs *flag.FlagSet, o *opts) {
			fs.StringVar(&o.flavor, "flavor", "", "new flavor id")
			fs.IntVar(&o.size, "size", 0, "new volume size in GB")
			waitFlag(fs, o)
		},
		run: func(ctx context.Context, c *call) error {
			if (c.o.flavor == "") == (c.o.size <= 0) {
				fmt.Fprintln(c.env.Stderr, "hoard instance resize: give exactly one of --flavor and --size")
				return errUsage
			}
			return c.instanceAction(ctx, "resize", func(id string) error {
				if c.o.flavor != "" {
					return instances.Resize(ctx, c.sc, id, c.o.flavor).ExtractErr()
				}
				return instances.ResizeVolume(ctx, c.sc, id, c.o.size).ExtractErr()
			})
		},
	})
	register("instance delete", &command{
		usage: "ID|NAME [--wait]",
		help:  "delete an instance (with --wait: until it is gone)",
		nargs: 1,
		flags: waitFlag,
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			id, err := c.instanceID(ctx)
			if err != nil {
				return fmt.Errorf("cli: delete instance: %w", err)
			}
			if err := instances.Delete(ctx, c.sc, id).ExtractErr(); err != nil {
				return fmt.Errorf("cli: delete instance: %w", err)
			}
			if c.o.wait {
				if err := c.waitGone(ctx, id); err != nil {
					return err
				}
			}
			c.say("instance %s deleted", id)
			return nil
		},
	})
}

// instanceAction runs an action accepted with 202, then with --wait
// follows the instance until it is ACTIVE again.
func (c *call) instanceAction(ctx context.Context, what string, do func(id string) error) error {
	if err := c.login(ctx); err != nil {
		return err
	}
	id, err := c.instanceID(ctx)
	if err != nil {
		return fmt.Errorf("cli: %s instance: %w", what, err)
	}
	if err := do(id); err != nil {
		return fmt.Errorf("cli: %s instance: %w", what, err)
	}
	if !c.o.wait {
		c.say("%s of instance %s accepted", what, id)
		return nil
	}
	in, err := c.waitStatus(ctx, id, "")
	if err != nil {
		return err
	}
	return c.printInstance(in)
}

// WaitError is returned by --wait when the instance ends in ERROR or
// FAILED; Fault is the instance's fault message.
type WaitError struct {
	ID, Status, Fault string
}

func (e *WaitError) Error() string {
	if e.Fault == "" {
		return fmt.Sprintf("instance %s went to %s", e.ID, e.Status)
	}
	return fmt.Sprintf("instance %s went to %s: %s", e.ID, e.Status, e.Fault)
}

// waitStatus polls an instance until it is ACTIVE (or HEALTHY), printing
// each status change with the elapsed time on stderr. last is the status
// already printed by the caller, if any.
func (c *call) waitStatus(ctx context.Context, id, last string) (*instances.Instance, error) {
	start := c.env.Now()
	if last != "" {
		c.progress(id, last, 0)
	}
	for {
		in, err := instances.Get(ctx, c.sc, id).Extract()
		if err != nil {
			return nil, fmt.Errorf("cli: wait for instance %s: %w", id, err)
		}
		if in.Status != last {
			c.progress(id, in.Status, c.env.Now().Sub(start))
			last = in.Status
		}
		switch in.Status {
		case "ACTIVE", "HEALTHY":
			return in, nil
		case "ERROR", "FAILED":
			we := &WaitError{ID: id, Status: in.Status}
			if in.Fault != nil {
				we.Fault = in.Fault.Message
			}
			return in, we
		}
		if err := c.pause(ctx); err != nil {
			return nil, fmt.Errorf("cli: wait for instance %s (last status %s): %w", id, last, err)
		}
	}
}

// waitGone polls until the instance answers 404.
func (c *call) waitGone(ctx context.Context, id string) error {
	start := c.env.Now()
	last := ""
	for {
		in, err := instances.Get(ctx, c.sc, id).Extract()
		switch {
		case gophercloud.ResponseCodeIs(err, http.StatusNotFound):
			c.progress(id, "DELETED", c.env.Now().Sub(start))
			return nil
		case err != nil:
			return fmt.Errorf("cli: wait for instance %s: %w", id, err)
		case in.Status != last:
			c.progress(id, in.Status, c.env.Now().Sub(start))
			last = in.Status
			if in.Status == "ERROR" || in.Status == "FAILED" {
				we := &WaitError{ID: id, Status: in.Status}
				if in.Fault != nil {
					we.Fault = in.Fault.Message
				}
				return we
			}
		}
		if err := c.pause(ctx); err != nil {
			return fmt.Errorf("cli: wait for instance %s to go: %w", id, err)
		}
	}
}

func (c *call) progress(id, status string, elapsed time.Duration) {
	fmt.Fprintf(c.env.Stderr, "%7.1fs  %s  %s\n", elapsed.Seconds(), safetext.Escape(id), safetext.Escape(status))
}

func (c *call) pause(ctx context.Context) error {
	t := time.NewTimer(c.env.PollInterval)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
