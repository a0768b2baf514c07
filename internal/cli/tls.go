package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/config/clouds"
)

// tlsConfig is the TLS configuration for the service, as the OpenStack
// CLI takes it: the cloud's cacert in clouds.yaml, or OS_CACERT; nil when
// neither is set (the system's roots).
func tlsConfig(o *opts, env *Env) (*tls.Config, error) {
	cloud := o.cloud
	if cloud == "" {
		cloud = env.Getenv("OS_CLOUD")
	}
	if cloud != "" {
		popts := []clouds.ParseOption{clouds.WithCloudName(cloud)}
		if len(env.CloudsFiles) > 0 {
			popts = append(popts, clouds.WithLocations(env.CloudsFiles...))
		}
		_, _, tc, err := clouds.Parse(popts...)
		if err != nil {
			return nil, fmt.Errorf("cli: clouds.yaml: %w", err)
		}
		return tc, nil
	}
	path := env.Getenv("OS_CACERT")
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cli: OS_CACERT: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("cli: OS_CACERT %s holds no PEM certificate", path)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// httpClient returns the client for the service: env's, with tc's
// roots when set and env's transport is the default one.
func httpClient(env *Env, tc *tls.Config) http.Client {
	hc := *env.HTTPClient
	if tc == nil {
		return hc
	}
	var tr *http.Transport
	switch t := hc.Transport.(type) {
	case nil:
		tr = http.DefaultTransport.(*http.Transport).Clone()
	case *http.Transport:
		tr = t.Clone()
	default:
		return hc // a test's own transport
	}
	tr.TLSClientConfig = tc
	hc.Transport = tr
	return hc
}

func init() {
	register("instance ca", &command{
		usage:    "ID|NAME",
		help:     "print the CA certificate (PEM) that the instance's TLS certificate chains to",
		nargs:    1,
		complete: "instance",
		run: func(ctx context.Context, c *call) error {
			if err := c.login(ctx); err != nil {
				return err
			}
			in, err := c.findInstance(ctx, c.args[0])
			if err != nil {
				return fmt.Errorf("cli: instance ca: %w", err)
			}
			pem, err := c.instanceCA(ctx, in.ID)
			if err != nil {
				return fmt.Errorf("cli: instance ca: %w", err)
			}
			_, err = c.env.Stdout.Write(pem)
			return err
		},
	})
}

// instanceCA fetches the PEM certificate of the CA that instance id's TLS
// certificate chains to; a 501 (instances without TLS) is an error
// gophercloud.ErrUnexpectedResponseCode with that code.
func (c *call) instanceCA(ctx context.Context, id string) ([]byte, error) {
	resp, err := c.sc.Request(ctx, http.MethodGet, c.sc.ServiceURL("instances", id, "ca"), &gophercloud.RequestOpts{
		MoreHeaders:      map[string]string{"Accept": "application/x-pem-file"},
		KeepResponseBody: true,
		OkCodes:          []int{http.StatusOK},
	})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}

// instanceCAFile writes the CA of instance id to the user's cache
// directory (hoard/ca-<id>.pem, readable by its owner only) for an engine
// client to verify the instance with, and returns its path; "" when the
// instance serves no TLS (the CA route answers 501).
func (c *call) instanceCAFile(ctx context.Context, id string) (string, error) {
	pem, err := c.instanceCA(ctx, id)
	if gophercloud.ResponseCodeIs(err, http.StatusNotImplemented) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("instance CA: %w", err)
	}
	if id == "" || strings.ContainsFunc(id, func(r rune) bool {
		return !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) {
		return "", fmt.Errorf("instance id %q cannot name a file", id)
	}
	base, err := c.env.CacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for the instance's CA: %w", err)
	}
	dir := filepath.Join(base, "hoard")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "ca-"+id+".pem")
	if err := os.WriteFile(path, pem, 0o600); err != nil {
		return "", err
	}
	return path, nil
}
