package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config configures an [S3] storage.
type S3Config struct {
	// Endpoint is host[:port] of the S3-compatible service.
	Endpoint string
	// Secure selects https.
	Secure bool
	// Region is the bucket's region ("" lets the client discover it).
	Region string
	Bucket string
	// Prefix is prepended to every key ("hoard/backups" → hoard/backups/<key>).
	Prefix    string
	AccessKey string
	SecretKey string
}

// S3 is a [Storage] in an S3-compatible object store, for several hoard
// machines sharing backups. It uses minio-go (github.com/minio/minio-go/v7),
// which signs requests with AWS Signature Version 4. An object becomes
// visible only when its upload completes; a crash in the middle of a
// multipart upload leaves an incomplete upload that the bucket's lifecycle
// rule (AbortIncompleteMultipartUpload) should expire.
type S3 struct {
	c      *minio.Client
	bucket string
	prefix string
	base   string
}

var _ Storage = (*S3)(nil)

// NewS3 returns an S3 storage; it does not contact the service.
func NewS3(cfg S3Config) (*S3, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, errors.New("backup: s3 needs an endpoint and a bucket")
	}
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.Secure,
		Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("backup: s3 client: %w", err)
	}
	scheme := "http"
	if cfg.Secure {
		scheme = "https"
	}
	return &S3{c: c, bucket: cfg.Bucket, prefix: strings.Trim(cfg.Prefix, "/"),
		base: scheme + "://" + cfg.Endpoint + "/" + url.PathEscape(cfg.Bucket)}, nil
}

func (s *S3) object(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	if s.prefix == "" {
		return key, nil
	}
	return path.Join(s.prefix, key), nil
}

func isNoSuchKey(err error) bool {
	code := minio.ToErrorResponse(err).Code
	return code == "NoSuchKey" || code == "NotFound"
}

// Put implements Storage (size unknown: minio-go uploads in parts).
func (s *S3) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	obj, err := s.object(key)
	if err != nil {
		return 0, err
	}
	info, err := s.c.PutObject(ctx, s.bucket, obj, r, -1, minio.PutObjectOptions{ContentType: "application/gzip"})
	if err != nil {
		return 0, fmt.Errorf("backup: s3 put %s: %w", key, err)
	}
	return info.Size, nil
}

// Get implements Storage.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if _, err := s.Stat(ctx, key); err != nil {
		return nil, err
	}
	obj, _ := s.object(key)
	o, err := s.c.GetObject(ctx, s.bucket, obj, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("backup: s3 get %s: %w", key, err)
	}
	return o, nil
}

// Stat implements Storage.
func (s *S3) Stat(ctx context.Context, key string) (int64, error) {
	obj, err := s.object(key)
	if err != nil {
		return 0, err
	}
	info, err := s.c.StatObject(ctx, s.bucket, obj, minio.StatObjectOptions{})
	if isNoSuchKey(err) {
		return 0, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	if err != nil {
		return 0, fmt.Errorf("backup: s3 stat %s: %w", key, err)
	}
	return info.Size, nil
}

// Delete implements Storage (S3 deletes of missing keys succeed).
func (s *S3) Delete(ctx context.Context, key string) error {
	obj, err := s.object(key)
	if err != nil {
		return err
	}
	if err := s.c.RemoveObject(ctx, s.bucket, obj, minio.RemoveObjectOptions{}); err != nil && !isNoSuchKey(err) {
		return fmt.Errorf("backup: s3 delete %s: %w", key, err)
	}
	return nil
}

// Location implements Storage: the object's URL.
func (s *S3) Location(key string) string {
	obj, _ := s.object(key)
	return s.base + "/" + obj
}

// KeyOf implements Storage: the object name of an http(s) URL in the
// bucket, below the prefix. The endpoint (scheme and host) is not
// compared: it is how hoard reaches the service, which an operator may
// change (HOARD_S3_ENDPOINT) without moving any object.
func (s *S3) KeyOf(location string) (string, error) {
	u, err := url.Parse(location)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("%w: %q", ErrForeignLocation, location)
	}
	key, ok := strings.CutPrefix(u.Path, path.Join("/", s.bucket, s.prefix)+"/")
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrForeignLocation, location)
	}
	if err := checkKey(key); err != nil {
		return "", err
	}
	return key, nil
}
