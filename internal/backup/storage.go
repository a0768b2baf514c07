package backup

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Sentinel errors.
var (
	// ErrNotFound means no artifact is stored under the key.
	ErrNotFound = errors.New("backup: artifact not found")
	// ErrCorrupt means an artifact's checksum does not match the recorded one.
	ErrCorrupt = errors.New("backup: artifact checksum mismatch")
	// ErrBadKey means a key is empty or not a plain relative name.
	ErrBadKey = errors.New("backup: bad artifact key")
	// ErrForeignLocation means a location is not one of the storage's
	// own ([Storage.KeyOf]): another kind of storage, another directory or
	// bucket, or not a location at all.
	ErrForeignLocation = errors.New("backup: location not in this storage")
)

// Storage keeps backup artifacts by key. Implementations are safe for
// concurrent use.
type Storage interface {
	// Put stores everything read from r under key and returns its size.
	// The artifact becomes visible only once complete: a Put that fails or
	// is interrupted (even by a crash) leaves no artifact under key, and an
	// existing artifact under key is replaced atomically.
	Put(ctx context.Context, key string, r io.Reader) (int64, error)
	// Get opens the artifact under key; ErrNotFound if there is none.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Stat returns the size of the artifact under key; ErrNotFound if none.
	Stat(ctx context.Context, key string) (int64, error)
	// Delete removes the artifact under key; deleting a missing key is not
	// an error (idempotent).
	Delete(ctx context.Context, key string) error
	// Location returns where the artifact under key is, in full (a URL):
	// the locationRef admins are shown. Tenants are shown its
	// [TenantLocation], which must understand every Location format.
	Location(key string) string
	// KeyOf is the inverse of Location: the key of the artifact at
	// location, for KeyOf(Location(k)) == k. It parses what Location
	// writes, also for locations stored by earlier versions, and returns
	// an error wrapping ErrForeignLocation for a location that is not in
	// this storage (or ErrBadKey for one whose key hoard never writes).
	// It is pure: it does not check that the artifact exists.
	KeyOf(location string) (string, error)
}

// checkKey accepts keys made of path segments of [A-Za-z0-9._-], none of
// them "." or "..".
func checkKey(key string) error {
	if key == "" || len(key) > 512 || strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") {
		return fmt.Errorf("%w: %q", ErrBadKey, key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.HasPrefix(seg, ".") {
			return fmt.Errorf("%w: %q", ErrBadKey, key)
		}
		for _, r := range seg {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
				return fmt.Errorf("%w: %q", ErrBadKey, key)
			}
		}
	}
	return nil
}

// Sum is the result of [Write]: the stored size and the hex SHA-256 of
// the stored (compressed) bytes.
type Sum struct {
	Size     int64
	Checksum string
	// RawSize is the number of uncompressed bytes the engine produced.
	RawSize int64
}

// Write stores, under key, the gzip-compressed output of produce (which
// writes the engine's raw stream to w) and returns its size and checksum.
// produce runs concurrently with the upload; if either fails nothing is
// left under key.
func Write(ctx context.Context, st Storage, key string, produce func(w io.Writer) error) (Sum, error) {
	pr, pw := io.Pipe()
	h := sha256.New()
	var raw countWriter
	done := make(chan error, 1)
	go func() {
		zw, err := gzip.NewWriterLevel(io.MultiWriter(pw, h), gzip.BestSpeed)
		if err != nil {
			pw.CloseWithError(err)
			done <- err
			return
		}
		err = produce(io.MultiWriter(zw, &raw))
		if err == nil {
			err = zw.Close()
		}
		if err != nil {
			pw.CloseWithError(err)
		} else {
			pw.Close()
		}
		done <- err
	}()
	n, err := st.Put(ctx, key, pr)
	pr.CloseWithError(errors.New("backup: upload ended")) // unblock the producer
	perr := <-done
	if err == nil && perr != nil {
		err = perr
	}
	if err != nil {
		_ = st.Delete(context.WithoutCancel(ctx), key)
		if perr != nil && !errors.Is(err, perr) {
			return Sum{}, fmt.Errorf("backup: store %s: %w (producer: %w)", key, err, perr)
		}
		return Sum{}, fmt.Errorf("backup: store %s: %w", key, err)
	}
	return Sum{Size: n, Checksum: hex.EncodeToString(h.Sum(nil)), RawSize: raw.n}, nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// Verify reads the whole artifact under key and checks its SHA-256
// against checksum (hex); ErrCorrupt on a mismatch, ErrNotFound if it is
// missing.
func Verify(ctx context.Context, st Storage, key, checksum string) error {
	rc, err := st.Get(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, &ctxReader{ctx: ctx, r: rc}); err != nil {
		return fmt.Errorf("backup: read %s: %w", key, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, checksum) {
		return fmt.Errorf("%w: %s has sha256 %s, recorded %s", ErrCorrupt, key, got, checksum)
	}
	return nil
}

// Open returns the decompressed engine stream of the artifact under key.
func Open(ctx context.Context, st Storage, key string) (io.ReadCloser, error) {
	rc, err := st.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(&ctxReader{ctx: ctx, r: rc})
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, key, err)
	}
	return &gzipReadCloser{zr: zr, rc: rc}, nil
}

type gzipReadCloser struct {
	zr *gzip.Reader
	rc io.ReadCloser
}

func (g *gzipReadCloser) Read(p []byte) (int, error) { return g.zr.Read(p) }
func (g *gzipReadCloser) Close() error {
	g.zr.Close()
	return g.rc.Close()
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
