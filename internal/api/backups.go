package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/hoard-db/hoard/internal/backup"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/service"
)

// BackupBackend is an optional Backend capability: backups (reference
// §13) and backup schedules (Rackspace §17.2). Without it those routes
// answer 501 notImplemented.
type BackupBackend interface {
	CreateBackup(ctx context.Context, tenantID string, req service.CreateBackupRequest) (*model.Backup, error)
	GetBackup(ctx context.Context, tenantID, id string) (*model.Backup, error)
	// ListBackups returns the tenant's backups newest first, from offset,
	// filtered by datastore (type or version id) unless empty, and whether
	// more follow.
	ListBackups(ctx context.Context, tenantID, datastore string, offset, limit int) ([]*model.Backup, bool, error)
	ListInstanceBackups(ctx context.Context, tenantID, instanceID string, offset, limit int) ([]*model.Backup, bool, error)
	DeleteBackup(ctx context.Context, tenantID, id string) error

	CreateSchedule(ctx context.Context, tenantID string, req service.ScheduleRequest) (*model.Schedule, error)
	GetSchedule(ctx context.Context, tenantID, id string) (*model.Schedule, error)
	ListSchedules(ctx context.Context, tenantID string) ([]*model.Schedule, error)
	UpdateSchedule(ctx context.Context, tenantID, id string, req service.ScheduleRequest) (*model.Schedule, error)
	DeleteSchedule(ctx context.Context, tenantID, id string) error
}

var _ BackupBackend = (*service.Service)(nil)

// backupRoutes registers §13 and §17.2 (called from routes).
func (s *Server) backupRoutes(t string) {
	s.handle("GET "+t+"backups", s.listBackups)
	s.handle("POST "+t+"backups", s.createBackup)
	s.handle("GET "+t+"backups/{id}", s.getBackup)
	s.handle("DELETE "+t+"backups/{id}", s.deleteBackup)
	s.handle("GET "+t+"instances/{id}/backups", s.listInstanceBackups)

	s.handle("GET "+t+"schedules", s.listSchedules)
	s.handle("POST "+t+"schedules", s.createSchedule)
	s.handle("GET "+t+"schedules/{id}", s.getSchedule)
	s.handle("PUT "+t+"schedules/{id}", s.updateSchedule)
	s.handle("DELETE "+t+"schedules/{id}", s.deleteSchedule)
}

func (s *Server) backups() (BackupBackend, error) {
	bb, ok := s.b.(BackupBackend)
	if !ok {
		return nil, fault.New(fault.NotImplemented, "api.backup", "Backups are not implemented.")
	}
	return bb, nil
}

// backupDatastoreView is a backup's datastore.
type backupDatastoreView struct {
	Type      string `json:"type"`
	Version   string `json:"version"`
	VersionID string `json:"version_id"`
}

// backupView is the Trove backup object (§13.2) with Rackspace's extras.
type backupView struct {
	ID          string               `json:"id"`
	Name        string               `json:"name"`
	Description *string              `json:"description"`
	InstanceID  string               `json:"instance_id"`
	Status      string               `json:"status"`
	Size        *float64             `json:"size"`
	LocationRef *string              `json:"locationRef"`
	ParentID    *string              `json:"parent_id"`
	Created     string               `json:"created"`
	Updated     string               `json:"updated"`
	Datastore   *backupDatastoreView `json:"datastore,omitempty"`
	ProjectID   string               `json:"project_id"`
	IsAutomated int                  `json:"is_automated"`
	VolumeSize  int                  `json:"volume_size"`
	Type        string               `json:"type"`
	FailReason  string               `json:"fail_reason,omitempty"`
}

// newBackupView is b's view. Its type is the label of b's artifact format
// (model.Backup.Type: the backend labels incremental backups, and old ones
// by their engine). Its locationRef is the artifact's full
// location for an admin, and for anyone else the location without the
// host's directories or the object store's endpoint
// ([backup.TenantLocation]: "local:<key>", "s3://bucket/key").
func newBackupView(b *model.Backup, admin bool) backupView {
	v := backupView{
		ID: b.ID, Name: b.Name, InstanceID: b.InstanceID, Status: string(b.Status),
		Created: formatTime(b.Created), Updated: formatTime(b.Updated), ProjectID: b.TenantID,
		VolumeSize: b.VolumeSize, Type: b.Type, FailReason: b.Fault,
	}
	if b.Description != "" {
		v.Description = &b.Description
	}
	if b.ParentID != "" {
		v.ParentID = &b.ParentID
	}
	if b.Automated {
		v.IsAutomated = 1
	}
	if b.Status == model.BackupCompleted {
		gb := service.SizeGB(b)
		v.Size = &gb
		loc := b.Location
		if !admin {
			loc = backup.TenantLocation(loc)
		}
		if loc != "" {
			v.LocationRef = &loc
		}
	}
	if b.DatastoreVersionID != "" {
		v.Datastore = &backupDatastoreView{Type: b.Datastore, Version: b.DatastoreVersion, VersionID: b.DatastoreVersionID}
	}
	return v
}

// backupList is a page of backups; Links and BackupsLinks carry the same
// next link (troveclient reads "links", gophercloud-style clients
// "backups_links").
type backupList struct {
	Backups      []backupView `json:"backups"`
	Links        []link       `json:"links,omitempty"`
	BackupsLinks []link       `json:"backups_links,omitempty"`
}

// offsetPage reads limit and an integer offset marker (§4: backups page by
// offset, newest first).
func (s *Server) offsetPage(r *http.Request) (offset, limit int, err error) {
	page, err := s.pageOf(r)
	if err != nil {
		return 0, 0, err
	}
	if page.Marker != "" {
		n, err := strconv.Atoi(page.Marker)
		if err != nil || n < 0 {
			return 0, 0, fault.Errorf(fault.Invalid, "api.page", "Invalid marker '%s': backups page by an integer offset.", truncate(page.Marker, 32))
		}
		offset = n
	}
	return offset, page.Limit, nil
}

func (s *Server) writeBackupList(w http.ResponseWriter, r *http.Request, items []*model.Backup, more bool, offset, limit int) error {
	out := backupList{Backups: make([]backupView, 0, len(items))}
	admin := reqInfoFrom(r.Context()).isAdmin()
	for _, b := range items {
		out.Backups = append(out.Backups, newBackupView(b, admin))
	}
	if more {
		out.Links = nextLinks(r, strconv.Itoa(offset+len(items)), limit)
		out.BackupsLinks = out.Links
	}
	return writeJSON(w, http.StatusOK, out)
}

// listBackups serves GET /v1.0/{tenant}/backups[?datastore=].
func (s *Server) listBackups(w http.ResponseWriter, r *http.Request) error {
	bb, err := s.backups()
	if err != nil {
		return err
	}
	offset, limit, err := s.offsetPage(r)
	if err != nil {
		return err
	}
	items, more, err := bb.ListBackups(r.Context(), r.PathValue("tenant"), r.URL.Query().Get("datastore"), offset, limit)
	if err != nil {
		return err
	}
	return s.writeBackupList(w, r, items, more, offset, limit)
}

// listInstanceBackups serves GET /v1.0/{tenant}/instances/{id}/backups.
func (s *Server) listInstanceBackups(w http.ResponseWriter, r *http.Request) error {
	bb, err := s.backups()
	if err != nil {
		return err
	}
	offset, limit, err := s.offsetPage(r)
	if err != nil {
		return err
	}
	items, more, err := bb.ListInstanceBackups(r.Context(), r.PathValue("tenant"), r.PathValue("id"), offset, limit)
	if err != nil {
		return err
	}
	return s.writeBackupList(w, r, items, more, offset, limit)
}

// createBackup serves POST /v1.0/{tenant}/backups: 202 with the backup.
func (s *Server) createBackup(w http.ResponseWriter, r *http.Request) error {
	bb, err := s.backups()
	if err != nil {
		return err
	}
	body, err := readBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	req, err := decodeBackupCreate(body)
	if err != nil {
		return err
	}
	b, err := bb.CreateBackup(r.Context(), r.PathValue("tenant"), req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, map[string]backupView{"backup": newBackupView(b, reqInfoFrom(r.Context()).isAdmin())})
}

// getBackup serves GET /v1.0/{tenant}/backups/{id}.
func (s *Server) getBackup(w http.ResponseWriter, r *http.Request) error {
	bb, err := s.backups()
	if err != nil {
		return err
	}
	b, err := bb.GetBackup(r.Context(), r.PathValue("tenant"), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]backupView{"backup": newBackupView(b, reqInfoFrom(r.Context()).isAdmin())})
}

// deleteBackup serves DELETE /v1.0/{tenant}/backups/{id}: 202, empty.
func (s *Server) deleteBackup(w http.ResponseWriter, r *http.Request) error {
	bb, err := s.backups()
	if err != nil {
		return err
	}
	if err := bb.DeleteBackup(r.Context(), r.PathValue("tenant"), r.PathValue("id")); err != nil {
		return err
	}
	writeEmpty(w, http.StatusAccepted)
	return nil
}

// scheduleView is Rackspace's schedule object (§17.2).
type scheduleView struct {
	ID                  string            `json:"id"`
	Action              string            `json:"action"`
	DayOfWeek           int               `json:"day_of_week"`
	DayOfMonth          *int              `json:"day_of_month"`
	Month               *int              `json:"month"`
	Hour                int               `json:"hour"`
	Minute              int               `json:"minute"`
	InstanceID          string            `json:"instance_id"`
	Source              map[string]string `json:"source"`
	FullBackupRetention int               `json:"full_backup_retention"`
	NextRun             string            `json:"next_run"`
	LastScheduled       *string           `json:"last_scheduled"`
	Running             bool              `json:"running"`
	Created             string            `json:"created"`
	Updated             string            `json:"updated"`
}

func newScheduleView(c *model.Schedule) scheduleView {
	v := scheduleView{
		ID: c.ID, Action: "backup", DayOfWeek: c.DayOfWeek, Hour: c.Hour, Minute: c.Minute,
		InstanceID: c.InstanceID, Source: map[string]string{"id": c.InstanceID, "type": "instance"},
		FullBackupRetention: c.Retention, NextRun: formatTime(c.NextRun),
		Created: formatTime(c.Created), Updated: formatTime(c.Updated),
	}
	if !c.LastScheduled.IsZero() {
		ls := formatTime(c.LastScheduled)
		v.LastScheduled = &ls
	}
	return v
}

func (s *Server) listSchedules(w http.ResponseWriter, r *http.Request) error {
	bb, err := s.backups()
	if err != nil {
		return err
	}
	list, err := bb.ListSchedules(r.Context(), r.PathValue("tenant"))
	if err != nil {
		return err
	}
	out := make([]scheduleView, 0, len(list))
	for _, c := range list {
		out = append(out, newScheduleView(c))
	}
	return writeJSON(w, http.StatusOK, map[string][]scheduleView{"schedules": out})
}

func (s *Server) createSchedule(w http.ResponseWriter, r *http.Request) error {
	bb, err := s.backups()
	if err != nil {
		return err
	}
	body, err := readBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	req, err := decodeSchedule(body, true)
	if err != nil {
		return err
	}
	c, err := bb.CreateSchedule(r.Context(), r.PathValue("tenant"), req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, map[string]scheduleView{"schedule": newScheduleView(c)})
}

func (s *Server) getSchedule(w http.ResponseWriter, r *http.Request) error {
	bb, err := s.backups()
	if err != nil {
		return err
	}
	c, err := bb.GetSchedule(r.Context(), r.PathValue("tenant"), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]scheduleView{"schedule": newScheduleView(c)})
}

func (s *Server) updateSchedule(w http.ResponseWriter, r *http.Request) error {
	bb, err := s.backups()
	if err != nil {
		return err
	}
	body, err := readBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	req, err := decodeSchedule(body, false)
	if err != nil {
		return err
	}
	if _, err := bb.UpdateSchedule(r.Context(), r.PathValue("tenant"), r.PathValue("id"), req); err != nil {
		return err
	}
	writeEmpty(w, http.StatusAccepted)
	return nil
}

func (s *Server) deleteSchedule(w http.ResponseWriter, r *http.Request) error {
	bb, err := s.backups()
	if err != nil {
		return err
	}
	if err := bb.DeleteSchedule(r.Context(), r.PathValue("tenant"), r.PathValue("id")); err != nil {
		return err
	}
	writeEmpty(w, http.StatusAccepted)
	return nil
}
