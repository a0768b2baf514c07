package cli

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/databases"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/users"
	"github.com/spf13/pflag"
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
	Port             int      `json:"port,omitempty"`
	Created          string   `json:"created,omitempty"`
	Updated          string   `json:"updated,omitempty"`
	Fault            string   `json:"fault,omitempty"`
	// Replication (show only): the source of a replica, the replicas of a
	// source, and how a replica follows (state and lag).
	ReplicaOf   string   `json:"replica_of,omitempty"`
	Replicas    []string `json:"replicas,omitempty"`
	Replication string   `json:"replication,omitempty"`
}

// instanceExtra is what hoard's detail view adds to Trove's, which
// gophercloud's Instance does not carry: the engine's port and the
// replication topology.
type instanceExtra struct {
	Port      int `json:"port"`
	ReplicaOf *struct {
		ID string `json:"id"`
	} `json:"replica_of"`
	Replicas []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"replicas"`
	Replication *struct {
		State      string   `json:"state"`
		LagSeconds *float64 `json:"lag_seconds"`
		Error      string   `json:"error"`
	} `json:"replication"`
}

// instance is an instance as shown by the API: gophercloud's view and
// hoard's extras.
type instance struct {
	*instances.Instance
	extra instanceExtra
}

func viewInstance(in *instances.Instance, x *instanceExtra) instanceView {
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
	if x == nil {
		return v
	}
	v.Port = x.Port
	if x.ReplicaOf != nil {
		v.ReplicaOf = x.ReplicaOf.ID
	}
	for _, r := range x.Replicas {
		v.Replicas = append(v.Replicas, r.ID)
	}
	if r := x.Replication; r != nil {
		v.Replication = r.State
		if r.LagSeconds != nil {
			v.Replication += ", lag " + strconv.FormatFloat(*r.LagSeconds, 'f', -1, 64) + " s"
		}
		if r.Error != "" {
			v.Replication += ": " + r.Error
		}
	}
	return v
}

var instanceListColumns = cols("ID=id", "NAME=name", "STATUS=status", "FLAVOR=flavor", "SIZE=volume_size",
	"DATASTORE=datastore", "VERSION=datastore_version", "ADDRESS=addresses")

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

// fields are the FIELD/VALUE rows of an instance; empty optional ones are
// left out.
func (v instanceView) fields() [][2]string {
	f := [][2]string{
		{"id", v.ID}, {"name", v.Name}, {"status", v.Status}, {"flavor", v.Flavor},
		{"volume_size", strconv.Itoa(v.VolumeSize)},
		{"datastore", v.Datastore}, {"datastore_version", v.DatastoreVersion},
		{"addresses", strings.Join(v.Addresses, ",")},
	}
	opt := func(k, val string) {
		if val != "" {
			f = append(f, [2]string{k, val})
		}
	}
	opt("hostname", v.Hostname)
	if v.Port > 0 {
		opt("port", strconv.Itoa(v.Port))
	}
	if v.VolumeUsed > 0 {
		opt("volume_used", strconv.FormatFloat(v.VolumeUsed, 'f', -1, 64))
	}
	f = append(f, [2]string{"created", v.Created}, [2]string{"updated", v.Updated})
	opt("fault", v.Fault)
	opt("replica_of", v.ReplicaOf)
	opt("replicas", strings.Join(v.Replicas, ","))
	opt("replication", v.Replication)
	return f
}

// printInstance prints one instance as FIELD/VALUE rows.
func (c *call) printInstance(in *instances.Instance, x *instanceExtra) error {
	v := viewInstance(in, x)
	return c.printFields(v, v.fields())
}

// getInstance GETs an instance by id, with hoard's extras.
func (c *call) getInstance(ctx context.Context, id string) (*instance, error) {
	r := instances.Get(ctx, c.sc, id)
	in, err := r.Extract()
	if err != nil {
		return nil, err
	}
	out := &instance{Instance: in}
	if err := r.ExtractIntoStructPtr(&out.extra, "instance"); err != nil {
		return nil, err
	}
	return out, nil
}

// listInstances returns every instance of the project (every page).
func (c *call) listInstances(ctx context.Context) ([]instances.Instance, error) {
	pages, err := instances.List(c.sc).AllPages(ctx)
	if err != nil {
		return nil, err
	}
	return instances.ExtractInstances(pages)
}

// findInstance resolves an id or a unique name to an instance, as OSC does:
// GET by id first, then a name match over the list. A name that several
// instances share is an error naming their ids.
func (c *call) findInstance(ctx context.Context, ref string) (*instance, error) {
	in, err := c.getInstance(ctx, ref)
	if err == nil || !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		return in, err
	}
	all, lerr := c.listInstances(ctx)
	if lerr != nil {
		return nil, err
	}
	var ids []string
	for _, x := range all {
		if x.Name == ref {
			ids = append(ids, x.ID)
		}
	}
	switch len(ids) {
	case 0:
		return nil, err
	case 1:
		return c.getInstance(ctx, ids[0])
	default:
		return nil, fmt.Errorf("cli: %d instances are named %q (%s); use an id", len(ids), ref, strings.Join(ids, ", "))
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

// warnSameName warns when instances named name exist already: from now on
// the name addresses none of them.
func (c *call) warnSameName(ctx context.Context, name string) {
	all, err := c.listInstances(ctx)
	if err != nil {
		return // the create will say what is wrong
	}
	var ids []string
	for _, x := range all {
		if x.Name == name {
			ids = append(ids, x.ID)
		}
	}
	if len(ids) > 0 {
		c.warn("an instance named %q exists already (%s); the name no longer tells them apart, use ids", name, strings.Join(ids, ", "))
	}
}

// label names an instance in messages: "name (id)", or the id alone.
func label(name, id string) string {
	if name == "" {
		return id
	}
	return name + " (" + id + ")"
}

// parseUsers reads --users: items separated by ';', each
// name[@host][:password[:db1,db2]]. A user without its own database list is
// granted dbs; one without a password (name alone, or name::dbs) has
// Password "", to be asked for.
func parseUsers(s string, dbs []string) (users.BatchCreateOpts, error) {
	var out users.BatchCreateOpts
	for item := range strings.SplitSeq(s, ";") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		parts := strings.SplitN(item, ":", 3)
		if parts[0] == "" {
			return nil, fmt.Errorf("%w: --users wants name[:password[:db1,db2]], separated by ';'", errUsage)
		}
		u := users.CreateOpts{Name: parts[0]}
		if len(parts) > 1 {
			u.Password = parts[1]
		}
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

// askPasswords asks on the terminal for the password of each user that
// --users gave without one.
func (c *call) askPasswords(us users.BatchCreateOpts) error {
	for i := range us {
		if us[i].Password != "" {
			continue
		}
		pw, ok, err := c.env.ReadSecret("Password for database user " + us[i].Name + ": ")
		if err != nil {
			return err
		}
		if !ok {
			return c.usagef("no password for user %q: give --users %s:PASSWORD, or run on a terminal to be asked", us[i].Name, us[i].Name)
		}
		if pw == "" {
			return c.usagef("the password of user %q is empty", us[i].Name)
		}
		us[i].Password = pw
	}
	return nil
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

// restoreOpts is gophercloud's instance create with restorePoint, which
// gophercloud's CreateOpts lacks (reference §13.6).
type restoreOpts struct {
	instances.CreateOpts
	backupID string
}

// ToInstanceCreateMap implements instances.CreateOptsBuilder.
func (o restoreOpts) ToInstanceCreateMap() (map[string]any, error) {
	m, err := o.CreateOpts.ToInstanceCreateMap()
	if err != nil {
		return nil, err
	}
	in, ok := m["instance"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("cli: create instance: no instance in %v", m)
	}
	in["restorePoint"] = map[string]any{"backupRef": o.backupID}
	return m, nil
}

func waitFlag(fs *pflag.FlagSet, o *opts) {
	fs.BoolVar(&o.wait, "wait", false, "wait until the operation finishes, showing status changes (at most --timeout)")
}

func init() {
	register("instance create", &command{
		usage: "NAME (--flavor ID --size GB [--datastore TYPE] [--datastore-version V] [--databases a,b] [--users 'u[:pw[:db,..]];...'] [--backup ID|NAME] | --replica-of ID|NAME [--flavor ID] [--size GB]) [--wait]",
		help:  "create an instance (users are granted every --databases unless they list their own), restore a backup into a new one, or make a read replica",
		nargs: 1,
		flags: func(fs *pflag.FlagSet, o *opts) {
			fs.StringVar(&o.flavor, "flavor", "", "flavor id (required)")
			fs.IntVar(&o.size, "size", 0, "volume size in GB (required)")
			fs.StringVar(&o.volumeType, "volume-type", "", "volume type")
			fs.StringVar(&o.datastore, "datastore", "", "datastore type (default: the service's default, or the backup's)")
			fs.StringVar(&o.dsVersion, "datastore-version", "", "datastore version")
			fs.StringVar(&o.databases, "databases", "", "databases to create, comma separated")
			fs.StringVar(&o.users, "users", "", "users to create: name[:password[:db1,db2]], separated by ';' (a password left out is asked for)")
			fs.StringVar(&o.configuration, "configuration", "", "configuration group id")
			fs.StringVar(&o.backup, "backup", "", "restore this backup (id or name) into the new instance")
			fs.StringVar(&o.replicaOf, "replica-of", "", "make a read replica of this instance (its flavor and size unless given)")
			waitFlag(fs, o)
		},
		run: func(ctx context.Context, c *call) error {
			if c.o.replicaOf != "" {
				return c.createReplica(ctx)
			}
			if c.o.flavor == "" || c.o.size <= 0 {
				return c.usagef("--flavor and --size are required")
			}
			dbs := splitList(c.o.databases)
			us, err := parseUsers(c.o.users, dbs)
			if err != nil {
				return c.usagef("%s", strings.TrimPrefix(err.Error(), errUsage.Error()+": "))
			}
			if err := c.askPasswords(us); err != nil {
				return err
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
			var builder instances.CreateOptsBuilder = co
			if c.o.backup != "" {
				b, err := c.findBackup(ctx, c.o.backup)
				if err != nil {
					return fmt.Errorf("cli: restore backup: %w", err)
				}
				builder = restoreOpts{CreateOpts: co, backupID: b.ID}
			}
			c.warnSameName(ctx, c.args[0])
			in, err := instances.Create(ctx, c.sc, builder).Extract()
			if err != nil {
				return fmt.Errorf("cli: create instance: %w", err)
			}
			return c.created(ctx, in)
		},
	})
	register("instance detach-replica", &command{
		usage:    "ID|NAME [--wait]",
		help:     "make a read replica a standalone, writable instance",
		nargs:    1,
		complete: "instance",
		flags:    waitFlag,
		run: func(ctx context.Context, c *call) error {
			return c.instanceAction(ctx, "detach replica", func(id string) error {
				body := map[string]any{"instance": map[string]any{"replica_of": nil}}
				_, err := c.sc.Patch(ctx, c.sc.ServiceURL("instances", id), body, nil, &gophercloud.RequestOpts{OkCodes: []int{202}})
				return err
			})
		},
	})
	for _, a := range []struct{ name, action, help string }{
		{"promote", "promote_to_replica_source", "make a read replica the source of its set (the source and the other replicas follow it; no write is lost)"},
		{"eject-source", "eject_replica_source", "replace a source whose engine is gone by its most advanced replica"},
	} {
		register("instance "+a.name, &command{
			usage:    "ID|NAME [--wait]",
			help:     a.help,
			nargs:    1,
			complete: "instance",
			flags:    waitFlag,
			run: func(ctx context.Context, c *call) error {
				return c.instanceAction(ctx, a.name, func(id string) error {
					body := map[string]any{a.action: map[string]any{}}
					_, err := c.sc.Post(ctx, c.sc.ServiceURL("instances", id, "action"), body, nil, &gophercloud.RequestOpts{OkCodes: []int{202}})
					return err
				})
			},
		})
	}
	register("instance list", &command{
		help: "list instances (every page)",
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			all, err := c.listInstances(ctx)
			if err != nil {
				return fmt.Errorf("cli: list instances: %w", err)
			}
			views := make([]instanceView, 0, len(all))
			rows := make([][]string, 0, len(all))
			for i := range all {
				v := viewInstance(&all[i], nil)
				views = append(views, v)
				rows = append(rows, v.row())
			}
			return c.print(views, instanceListColumns, rows)
		},
	})
	register("instance show", &command{
		usage:    "ID|NAME",
		help:     "show an instance (with its port and replication)",
		nargs:    1,
		complete: "instance",
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			in, err := c.findInstance(ctx, c.args[0])
			if err != nil {
				return fmt.Errorf("cli: show instance: %w", err)
			}
			return c.printInstance(in.Instance, &in.extra)
		},
	})
	register("instance restart", &command{
		usage:    "ID|NAME [--wait]",
		help:     "restart the database service of an instance",
		nargs:    1,
		complete: "instance",
		flags:    waitFlag,
		run: func(ctx context.Context, c *call) error {
			return c.instanceAction(ctx, "restart", func(id string) error {
				return instances.Restart(ctx, c.sc, id).ExtractErr()
			})
		},
	})
	register("instance resize", &command{
		usage:    "ID|NAME (--flavor ID | --size GB) [--wait]",
		help:     "resize an instance's flavor or its volume",
		nargs:    1,
		complete: "instance",
		flags: func(fs *pflag.FlagSet, o *opts) {
			fs.StringVar(&o.flavor, "flavor", "", "new flavor id")
			fs.IntVar(&o.size, "size", 0, "new volume size in GB")
			waitFlag(fs, o)
		},
		run: func(ctx context.Context, c *call) error {
			if (c.o.flavor == "") == (c.o.size <= 0) {
				return c.usagef("give exactly one of --flavor and --size")
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
		usage:    "ID|NAME [--wait]",
		help:     "delete an instance (the API accepts it at once; with --wait, until it is gone)",
		nargs:    1,
		complete: "instance",
		flags:    waitFlag,
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			in, err := c.findInstance(ctx, c.args[0])
			if err != nil {
				return fmt.Errorf("cli: delete instance: %w", err)
			}
			if err := instances.Delete(ctx, c.sc, in.ID).ExtractErr(); err != nil {
				return fmt.Errorf("cli: delete instance: %w", err)
			}
			if !c.o.wait {
				c.say("deletion of instance %s accepted (--wait waits until it is gone)", label(in.Name, in.ID))
				return nil
			}
			if err := c.waitGone(ctx, in.ID, in.Name); err != nil {
				return err
			}
			c.say("instance %s deleted", label(in.Name, in.ID))
			return nil
		},
	})
}

// created prints a created instance; with --wait once it is ACTIVE.
func (c *call) created(ctx context.Context, in *instances.Instance) error {
	if !c.o.wait {
		return c.printInstance(in, nil)
	}
	done, err := c.waitStatus(ctx, in.ID, in.Name, in.Status)
	if err != nil {
		return err
	}
	return c.printInstance(done.Instance, &done.extra)
}

// instanceAction runs an action accepted with 202, then with --wait
// follows the instance until it is ACTIVE again.
func (c *call) instanceAction(ctx context.Context, what string, do func(id string) error) error {
	if err := c.login(ctx); err != nil {
		return err
	}
	in, err := c.findInstance(ctx, c.args[0])
	if err != nil {
		return fmt.Errorf("cli: %s instance: %w", what, err)
	}
	if err := do(in.ID); err != nil {
		return fmt.Errorf("cli: %s instance: %w", what, err)
	}
	if !c.o.wait {
		c.say("%s of instance %s accepted", what, label(in.Name, in.ID))
		return nil
	}
	done, err := c.waitStatus(ctx, in.ID, in.Name, "")
	if err != nil {
		return err
	}
	return c.printInstance(done.Instance, &done.extra)
}

// replicaCreateOpts is gophercloud's instance create with replica_of,
// which gophercloud's CreateOpts lacks.
type replicaCreateOpts struct {
	name, flavor, replicaOf string
	size                    int
}

// ToInstanceCreateMap implements instances.CreateOptsBuilder.
func (o replicaCreateOpts) ToInstanceCreateMap() (map[string]any, error) {
	in := map[string]any{"name": o.name, "replica_of": o.replicaOf}
	if o.flavor != "" {
		in["flavorRef"] = o.flavor
	}
	if o.size > 0 {
		in["volume"] = map[string]any{"size": o.size}
	}
	return map[string]any{"instance": in}, nil
}

// createReplica is instance create --replica-of: the source by id or name,
// flavor and size the source's unless given.
func (c *call) createReplica(ctx context.Context) error {
	if c.o.databases != "" || c.o.users != "" || c.o.datastore != "" || c.o.dsVersion != "" || c.o.backup != "" {
		return c.usagef("a replica takes its datastore, data, databases and users from its source")
	}
	if err := c.login(ctx); err != nil {
		return err
	}
	src, err := c.findInstance(ctx, c.o.replicaOf)
	if err != nil {
		return fmt.Errorf("cli: create replica: %w", err)
	}
	c.warnSameName(ctx, c.args[0])
	in, err := instances.Create(ctx, c.sc, replicaCreateOpts{name: c.args[0], flavor: c.o.flavor, replicaOf: src.ID, size: c.o.size}).Extract()
	if err != nil {
		return fmt.Errorf("cli: create replica: %w", err)
	}
	return c.created(ctx, in)
}
