package cli

import (
	"context"
	"flag"
	"fmt"
	"strconv"

	"github.com/gophercloud/gophercloud/v2"
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

func (b backupView) row() []string {
	size := ""
	if b.Size != nil {
		size = strconv.FormatFloat(*b.Size, 'f', -1, 64)
	}
	return []string{b.ID, b.Name, b.InstanceID, b.Status, size, b.Created}
}

var backupHeader = []string{"ID", "NAME", "INSTANCE", "STATUS", "SIZE (GB)", "CREATED"}

func init() {
	register("backup create", &command{
		usage: "INSTANCE NAME [--description D] [--wait]",
		help:  "back up an instance (POST /backups); --wait follows it until COMPLETED",
		nargs: 2,
		flags: func(fs *flag.FlagSet, o *opts) {
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
			return c.print(b, backupHeader, [][]string{b.row()})
		},
	})
	register("backup list", &command{
		usage: "[--instance INSTANCE]",
		help:  "list backups (of one instance with --instance)",
		flags: func(fs *flag.FlagSet, o *opts) {
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
			var all []backupView
			for url != "" {
				var page struct {
					Backups []backupView       `json:"backups"`
					Links   []gophercloud.Link `json:"links"`
				}
				if _, err := c.sc.Get(ctx, url, &page, nil); err != nil {
					return fmt.Errorf("cli: list backups: %w", err)
				}
				all = append(all, page.Backups...)
				url = ""
				for _, l := range page.Links {
					if l.Rel == "next" && len(page.Backups) > 0 {
						url = l.Href
					}
				}
			}
			rows := make([][]string, 0, len(all))
			for _, b := range all {
				rows = append(rows, b.row())
			}
			if all == nil {
				all = []backupView{}
			}
			return c.print(all, backupHeader, rows)
		},
	})
	register("backup show", &command{
		usage: "ID",
		help:  "show a backup",
		nargs: 1,
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			b, err := c.getBackup(ctx, c.args[0])
			if err != nil {
				return err
			}
			return c.print(b, backupHeader, [][]string{b.row()})
		},
	})
	register("backup delete", &command{
		usage: "ID",
		help:  "delete a backup",
		nargs: 1,
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			if _, err := c.sc.Delete(ctx, c.sc.ServiceURL("backups", c.args[0]), nil); err != nil {
				return fmt.Errorf("cli: delete backup: %w", err)
			}
			c.say("backup %s deleted", c.args[0])
			return nil
		},
	})
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

// BackupError is returned by backup create --wait when the backup fails.
type BackupError struct{ ID, Status string }

func (e *BackupError) Error() string { return fmt.Sprintf("backup %s went to %s", e.ID, e.Status) }

// waitBackup polls a backup until it leaves NEW/BUILDING/SAVING.
func (c *call) waitBackup(ctx context.Context, b backupView) (backupView, error) {
	start := c.env.Now()
	last := ""
	for {
		if b.Status != last {
			c.progress(b.ID, b.Status, c.env.Now().Sub(start))
			last = b.Status
		}
		switch b.Status {
		case "COMPLETED", "RESTORED":
			return b, nil
		case "NEW", "BUILDING", "SAVING":
		default:
			return b, &BackupError{ID: b.ID, Status: b.Status}
		}
		if err := c.pause(ctx); err != nil {
			return b, fmt.Errorf("cli: wait for backup %s: %w", b.ID, err)
		}
		var err error
		if b, err = c.getBackup(ctx, b.ID); err != nil {
			return b, err
		}
	}
}
