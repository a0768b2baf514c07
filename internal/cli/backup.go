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

// backupView is a backup as the API shows it (reference §13.2);
// gophercloud has no backups package, so this is decoded here.
type backupView struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	InstanceID  string   `json:"instance_id"`
	Status      string   `json:"status"`
	Size        *float64 `json:"size"`
	LocationRef *string  `json:"locationRef,omitempty"`
	ParentID    *string  `json:"parent_id,omitempty"`
	Created     string   `json:"created"`
	Updated     string   `json:"updated"`
	Datastore   *struct {
		Type    string `json:"type"`
		Version string `json:"version"`
	} `json:"datastore,omitempty"`
}

func (b backupView) size() string {
	if b.Size == nil {
		return ""
	}
	return strconv.FormatFloat(*b.Size, 'f', -1, 64)
}

func (b backupView) row() []string {
	return []string{b.ID, b.Name, b.InstanceID, b.Status, b.size(), b.Created}
}

var backupColumns = cols("ID=id", "NAME=name", "INSTANCE=instance_id", "STATUS=status", "SIZE (GB)=size", "CREATED=created")

// fields are the FIELD/VALUE rows of a backup.
func (b backupView) fields() [][2]string {
	f := [][2]string{{"id", b.ID}, {"name", b.Name}}
	if b.Description != "" {
		f = append(f, [2]string{"description", b.Description})
	}
	f = append(f, [2]string{"instance_id", b.InstanceID}, [2]string{"status", b.Status}, [2]string{"size", b.size()})
	if b.Datastore != nil {
		f = append(f, [2]string{"datastore", b.Datastore.Type}, [2]string{"datastore_version", b.Datastore.Version})
	}
	if b.ParentID != nil {
		f = append(f, [2]string{"parent_id", *b.ParentID})
	}
	return append(f, [2]string{"created", b.Created}, [2]string{"updated", b.Updated})
}

func init() {
	register("backup create", &command{
		usage:    "INSTANCE NAME [--description D] [--wait]",
		help:     "back up an instance (POST /backups); --wait follows it until COMPLETED",
		nargs:    2,
		complete: "instance",
		flags: func(fs *pflag.FlagSet, o *opts) {
			fs.StringVar(&o.description, "description", "", "description")
			waitFlag(fs, o)
		},
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			id, err := c.instanceID(ctx)
			if err != nil {
				return fmt.Errorf("cli: create backup: %w", err)
			}
			req := map[string]any{"name": c.args[1], "instance": id}
			if c.o.description != "" {
				req["description"] = c.o.description
			}
			var resp struct {
				Backup backupView `json:"backup"`
			}
			_, err = c.sc.Post(ctx, c.sc.ServiceURL("backups"), map[string]any{"backup": req}, &resp,
				&gophercloud.RequestOpts{OkCodes: []int{200, 202}})
			if err != nil {
				return fmt.Errorf("cli: create backup: %w", err)
			}
			b := resp.Backup
			if c.o.wait {
				if b, err = c.waitBackup(ctx, b); err != nil {
					return err
				}
			}
			return c.printFields(b, b.fields())
		},
	})
	register("backup list", &command{
		usage: "[--instance INSTANCE]",
		help:  "list backups (of one instance with --instance)",
		flags: func(fs *pflag.FlagSet, o *opts) {
			fs.StringVar(&o.instance, "instance", "", "only the backups of this instance")
		},
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			url := c.sc.ServiceURL("backups")
			if c.o.instance != "" {
				in, err := c.findInstance(ctx, c.o.instance)
				if err != nil {
					return fmt.Errorf("cli: list backups: %w", err)
				}
				url = c.sc.ServiceURL("instances", in.ID, "backups")
			}
			all, err := c.listBackups(ctx, url)
			if err != nil {
				return fmt.Errorf("cli: list backups: %w", err)
			}
			rows := make([][]string, 0, len(all))
			for _, b := range all {
				rows = append(rows, b.row())
			}
			if all == nil {
				all = []backupView{}
			}
			return c.print(all, backupColumns, rows)
		},
	})
	register("backup show", &command{
		usage:    "ID|NAME",
		help:     "show a backup",
		nargs:    1,
		complete: "backup",
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			b, err := c.findBackup(ctx, c.args[0])
			if err != nil {
				return fmt.Errorf("cli: show backup: %w", err)
			}
			return c.printFields(b, b.fields())
		},
	})
	register("backup delete", &command{
		usage:    "ID|NAME",
		help:     "delete a backup (and the incremental backups built on it)",
		nargs:    1,
		complete: "backup",
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			b, err := c.findBackup(ctx, c.args[0])
			if err != nil {
				return fmt.Errorf("cli: delete backup: %w", err)
			}
			if _, err := c.sc.Delete(ctx, c.sc.ServiceURL("backups", b.ID), nil); err != nil {
				return fmt.Errorf("cli: delete backup: %w", err)
			}
			c.say("backup %s deleted", label(b.Name, b.ID))
			return nil
		},
	})
}

// listBackups GETs every page of a backup list.
func (c *call) listBackups(ctx context.Context, url string) ([]backupView, error) {
	var all []backupView
	for url != "" {
		var page struct {
			Backups []backupView       `json:"backups"`
			Links   []gophercloud.Link `json:"links"`
		}
		if _, err := c.sc.Get(ctx, url, &page, nil); err != nil {
			return nil, err
		}
		all = append(all, page.Backups...)
		url = ""
		for _, l := range page.Links {
			if l.Rel == "next" && len(page.Backups) > 0 {
				url = l.Href
			}
		}
	}
	return all, nil
}

// findBackup resolves an id or a unique name to a backup, as findInstance
// does for instances.
func (c *call) findBackup(ctx context.Context, ref string) (backupView, error) {
	var resp struct {
		Backup backupView `json:"backup"`
	}
	_, err := c.sc.Get(ctx, c.sc.ServiceURL("backups", ref), &resp, nil)
	if err == nil || !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		return resp.Backup, err
	}
	all, lerr := c.listBackups(ctx, c.sc.ServiceURL("backups"))
	if lerr != nil {
		return backupView{}, err
	}
	var found []backupView
	for _, b := range all {
		if b.Name == ref {
			found = append(found, b)
		}
	}
	switch len(found) {
	case 0:
		return backupView{}, err
	case 1:
		return found[0], nil
	}
	ids := make([]string, len(found))
	for i, b := range found {
		ids[i] = b.ID
	}
	return backupView{}, fmt.Errorf("cli: %d backups are named %q (%s); use an id", len(found), ref, strings.Join(ids, ", "))
}

func (c *call) getBackup(ctx context.Context, id string) (backupView, error) {
	var resp struct {
		Backup backupView `json:"backup"`
	}
	if _, err := c.sc.Get(ctx, c.sc.ServiceURL("backups", id), &resp, nil); err != nil {
		return backupView{}, fmt.Errorf("cli: show backup: %w", err)
	}
	return resp.Backup, nil
}
