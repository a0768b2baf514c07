package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"

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
			resp, err := c.sc.Request(ctx, http.MethodGet, c.sc.ServiceURL("instances", in.ID, "ca"), &gophercloud.RequestOpts{
				MoreHeaders:      map[string]string{"Accept": "application/x-pem-file"},
				KeepResponseBody: true,
				OkCodes:          []int{http.StatusOK},
			})
			if err != nil {
				return fmt.Errorf("cli: instance ca: %w", err)
			}
			defer resp.Body.Close()
			if _, err := io.Copy(c.env.Stdout, io.LimitReader(resp.Body, 1<<20)); err != nil {
				return fmt.Errorf("cli: instance ca: %w", err)
			}
			return nil
		},
	})
}
