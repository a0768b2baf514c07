package service

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/hoard-db/hoard/internal/backup"
	"github.com/hoard-db/hoard/internal/enginelog"
	"github.com/hoard-db/hoard/internal/fault"
)

// The published logs as objects: a read-only, Swift-compatible view of
// the parts Publish wrote (reference §16.1: Trove publishes to Swift, and
// troveclient's "log save" and "log tail" download from there). Only the
// container enginelog.Container exists; a listing shows the parts of one
// log, given its prefix, and a part is read by its name. Both check that
// the instance the prefix names is the tenant's.

// LogObject is one published part.
type LogObject struct {
	Name     string
	Bytes    int64
	Lines    int
	Modified time.Time
}

// objectNotFound is Swift's 404.
func objectNotFound(op string) error {
	return fault.New(fault.NotFound, op, "The resource could not be found.")
}

// logMeta returns the metafile of the log whose prefix is prefix, in
// container, of the tenant's instance.
func (s *Logs) logMeta(ctx context.Context, op, tenantID, container, prefix string) (enginelog.Meta, error) {
	if s.cfg.Backups.Storage == nil {
		return enginelog.Meta{}, logsUnsupported(op)
	}
	if container != enginelog.Container {
		return enginelog.Meta{}, objectNotFound(op)
	}
	inst, metafile, ok := enginelog.SplitPrefix(prefix)
	if !ok {
		return enginelog.Meta{}, nil // nothing matches a prefix hoard never makes
	}
	if _, err := s.st.GetInstance(ctx, tenantID, inst); err != nil {
		if isNotFound(err) {
			return enginelog.Meta{}, nil // another tenant's: nothing to see
		}
		return enginelog.Meta{}, err
	}
	m, err := s.publisher().MetaOf(ctx, metafile)
	if err != nil {
		return enginelog.Meta{}, s.storageErr(op, inst, err)
	}
	return m, nil
}

// ListLogObjects returns the published parts under prefix in container
// (empty for a prefix that names no published log of the tenant's), in
// publication order.
func (s *Logs) ListLogObjects(ctx context.Context, tenantID, container, prefix string) ([]LogObject, error) {
	const op = "instance.log.objects"
	m, err := s.logMeta(ctx, op, tenantID, container, prefix)
	if err != nil {
		return nil, err
	}
	out := make([]LogObject, 0, len(m.Parts))
	for _, p := range m.Parts {
		out = append(out, LogObject{Name: p.Key, Bytes: p.Bytes, Lines: p.Lines, Modified: enginelog.PartTime(p.Key)})
	}
	return out, nil
}

// OpenLogObject returns the published part name in container with its
// content; 404 unless it is a part of a published log of the tenant's.
func (s *Logs) OpenLogObject(ctx context.Context, tenantID, container, name string) (LogObject, io.ReadCloser, error) {
	const op = "instance.log.object"
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return LogObject{}, nil, objectNotFound(op)
	}
	m, err := s.logMeta(ctx, op, tenantID, container, name[:i+1])
	if err != nil {
		return LogObject{}, nil, err
	}
	for _, p := range m.Parts {
		if p.Key != name {
			continue
		}
		rc, err := s.publisher().OpenPart(ctx, p.Key)
		if errors.Is(err, backup.ErrNotFound) {
			return LogObject{}, nil, objectNotFound(op)
		}
		if err != nil {
			return LogObject{}, nil, s.storageErr(op, name, err)
		}
		return LogObject{Name: p.Key, Bytes: p.Bytes, Lines: p.Lines, Modified: enginelog.PartTime(p.Key)}, rc, nil
	}
	return LogObject{}, nil, objectNotFound(op)
}
